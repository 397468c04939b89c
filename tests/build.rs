//! Builds the test plugins under `tests/plugins/` from source for
//! wasm32-wasip2 and writes their paths to `OUT_DIR/test_plugins.rs`.

use std::path::Path;

use guest_build::Guest;

const TEST_PLUGINS: &[Guest<'static>] = &[
    Guest { package: "orch-test-probe", dir: "tests/plugins/probe" },
    Guest { package: "orch-test-gate-probe", dir: "tests/plugins/gate-probe" },
    Guest { package: "orch-test-greedy", dir: "tests/plugins/greedy" },
    Guest { package: "orch-test-future-api", dir: "tests/plugins/future-api" },
    Guest { package: "orch-test-legacy-router", dir: "tests/plugins/legacy-router" },
    Guest { package: "orch-test-legacy-gate", dir: "tests/plugins/legacy-gate" },
    Guest { package: "orch-test-legacy-provider", dir: "tests/plugins/legacy-provider" },
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    let workspace = Path::new(&manifest_dir).parent().expect("tests/ sits in the workspace");
    let paths = guest_build::build(workspace, TEST_PLUGINS);
    guest_build::write_path_constants("test_plugins.rs", TEST_PLUGINS, &paths);
}
