//! The tasks-file loader on any text, in each of its formats: it returns
//! tasks or an error with a line, and never panics.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&format, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let path = Path::new(["tasks.yaml", "tasks.toml", "tasks.json"][usize::from(format % 3)]);
    if let Err(error) = orch_host::tasks::parse(text, path) {
        // Rendering the error walks the text again to find the line.
        let _ = error.to_string();
    }
});
