//! Every parser of a reply from outside on any bytes — a planner's plan, a
//! reviewer's verdict, the three providers' HTTP answers, a test runner's
//! JUnit XML and compiler-style output lines: an answer or an error, never
//! a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orch_sdk::Header;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(body);
    let headers = [Header { name: "content-type".into(), value: "application/json".into() }];
    let status = if which & 0x80 == 0 { 200 } else { 429 };
    match which % 7 {
        0 => drop(orch_host::engine::plan::parse_plan(&text)),
        1 => drop(orch_host::engine::plan::parse_code_verdict(&text)),
        2 => drop(orch_openai::parse_response(status, &headers, body)),
        3 => drop(orch_anthropic::parse_response(status, &headers, body)),
        4 => drop(orch_gemini::parse_response(status, &headers, body)),
        5 => drop(orch_gate_command::junit::parse(&text, "/work/tree")),
        _ => drop(orch_gate_command::lines::parse(&text, "/work/tree")),
    }
});
