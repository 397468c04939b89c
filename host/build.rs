//! Builds the first-party plugins under `plugins/` for wasm32-wasip2 and
//! embeds them: `OUT_DIR/builtin_plugins.rs` lists each one's name and bytes.

use std::fmt::Write as _;
use std::path::Path;

use guest_build::Guest;

const BUILTINS: &[Guest<'static>] = &[
    Guest { package: "orch-router-rules", dir: "plugins/router-rules" },
    Guest { package: "orch-openai", dir: "plugins/openai" },
    Guest { package: "orch-anthropic", dir: "plugins/anthropic" },
    Guest { package: "orch-gate-command", dir: "plugins/gate-command" },
    Guest { package: "orch-gate-secrets", dir: "plugins/gate-secrets" },
    Guest { package: "orch-gate-diff-limits", dir: "plugins/gate-diff-limits" },
    Guest { package: "orch-gemini", dir: "plugins/gemini" },
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    let workspace = Path::new(&manifest_dir).parent().expect("host/ sits in the workspace");
    let paths = guest_build::build(workspace, BUILTINS);

    let mut src = String::from("/// First-party plugins embedded at build time: (name, component bytes).\n");
    src.push_str("pub const BUILTIN_PLUGINS: &[(&str, &[u8])] = &[\n");
    for (guest, path) in BUILTINS.iter().zip(&paths) {
        // The builtin's name is its directory's, gates without the `gate-`
        // prefix that groups them: plugins/gate-command is `command`.
        let dir = Path::new(guest.dir).file_name().expect("dir has a name").to_string_lossy();
        let name = dir.strip_prefix("gate-").unwrap_or(&dir);
        writeln!(src, "    ({name:?}, include_bytes!({:?})),", path.display().to_string())
            .expect("writing to a String cannot fail");
    }
    src.push_str("];\n");
    guest_build::write_out("builtin_plugins.rs", &src);
}
