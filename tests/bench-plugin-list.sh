#!/usr/bin/env bash
# Wall time of `orch plugin list` (every first-party plugin loaded) from a
# warm compiled-component cache: builds the release binary, warms a private
# cache once, then prints the median, min and max of N runs.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
cargo build --release -q -p orch-host
export ORCH_CACHE_DIR
ORCH_CACHE_DIR=$(mktemp -d)
trap 'rm -rf "$ORCH_CACHE_DIR"' EXIT
./target/release/orch plugin list >/dev/null   # compiles and fills the cache
times=()
for _ in $(seq "$runs"); do
  start=$(date +%s%N)
  ./target/release/orch plugin list >/dev/null
  times+=($(( ($(date +%s%N) - start) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$runs" '
  { t[NR] = $1 }
  END { printf "orch plugin list, warm cache: median %.1f ms, min %.1f ms, max %.1f ms (%d runs)\n",
        t[int((n + 1) / 2)] / 1000, t[1] / 1000, t[n] / 1000, n }'
