//! What a call costs, from each vendor's own usage shape to USD: the reply
//! body is read by the provider plugin's parser (natively, as in the plugin)
//! and priced by the host's table, against sums worked out by hand.

use std::collections::BTreeMap;

use orch_host::cost::{Pricing, Tokens};
use orch_sdk::provider::Completion;

/// The host's price for what `completion` reports.
fn cost(completion: &Completion) -> f64 {
    let usage = &completion.usage;
    let tokens = Tokens {
        input: usage.input_tokens,
        output: usage.output_tokens,
        cached_input: usage.cached_input_tokens,
        cache_write: usage.cache_write_tokens,
    };
    Pricing::new(&BTreeMap::new()).cost(&completion.model, tokens)
}

fn assert_usd(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
}

#[test]
fn openai_counts_cached_tokens_inside_the_prompt() {
    let body = br#"{"model": "gpt-4o-2024-08-06",
        "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12000, "completion_tokens": 800,
                  "prompt_tokens_details": {"cached_tokens": 4000}}}"#;
    let completion = orch_openai::parse_response(200, &[], body).unwrap();
    // gpt-4o: 8,000 × $2.50/M + 4,000 cached × $1.25/M + 800 × $10/M.
    assert_usd(cost(&completion), 0.020 + 0.005 + 0.008);
}

#[test]
fn anthropic_counts_cache_reads_and_writes_beside_the_input() {
    let body = br#"{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 2000, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 8000,
                  "output_tokens": 500}}"#;
    let completion = orch_anthropic::parse_response(200, &[], body).unwrap();
    // claude-sonnet-4-5: 2,000 × $3/M + 1,000 written to the cache × $3.75/M (1.25× input)
    // + 8,000 read × $0.30/M + 500 × $15/M.
    assert_usd(cost(&completion), 0.006 + 0.00375 + 0.0024 + 0.0075);
}

#[test]
fn gemini_bills_thinking_as_output() {
    let body = br#"{"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10000, "cachedContentTokenCount": 6000,
                          "candidatesTokenCount": 300, "thoughtsTokenCount": 700, "totalTokenCount": 11000},
        "modelVersion": "gemini-2.5-flash"}"#;
    let completion = orch_gemini::parse_response(200, &[], body).unwrap();
    // gemini-2.5-flash: 4,000 × $0.30/M + 6,000 cached × $0.075/M + (300 + 700) × $2.50/M.
    assert_usd(cost(&completion), 0.0012 + 0.00045 + 0.0025);
}
