//! The SDK's unified-diff reader (what gates see of a change) on any text:
//! never panics, and every line it returns is a line of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for file in orch_sdk::diff::parse(text) {
        let _ = format!("{file:?}");
    }
});
