//! # orch-mock-llm: a fake LLM server for tests and benchmarks
//!
//! [`MockLlm`] listens on `127.0.0.1` and speaks three wire formats, chosen by
//! path: OpenAI Chat Completions (`POST /v1/chat/completions`), Anthropic
//! Messages (`POST /v1/messages`) and Gemini
//! (`POST /v1beta/models/{model}:generateContent`). Each request is normalised
//! to a [`MockRequest`] and answered by a responder you supply (by default
//! [`echo`], which repeats the last user message; [`pipeline`] plays every
//! role of orch's default prompts), rendered back in the
//! caller's format; a [`MockReply`] chooses its [`StopReason`] (end turn, max
//! tokens, refusal, content filter). A fault script injects errors (in each
//! vendor's error shape, with its rate-limit headers), hangs, garbage and
//! dropped connections; every call is logged for assertions, with the exact
//! method, path, headers and body. [`sdk_compat`] drives the official Python
//! SDKs against it and captures the requests they send.
//!
//! It is a plain HTTP/1.1 server with keep-alive, light enough to sit under
//! benchmarks that drive thousands of requests a second.
//!
//! ```no_run
//! use orch_mock_llm::{Fault, MockLlm, MockReply, Vendor};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let mock = MockLlm::builder()
//!     .responder(|request| MockReply { text: format!("hello from {}", request.model), ..MockReply::default() })
//!     .faults([Fault::rate_limited(Some("1")), Fault::status(500)])
//!     .start()
//!     .await?;
//! let base_url = mock.base_url(Vendor::OpenAi); // http://127.0.0.1:PORT/v1
//! // ... point the client under test at `base_url`: its first call gets a 429,
//! // its second a 500, the rest the responder's answer ...
//! assert_eq!(mock.pending_faults(), 2);
//! # Ok(()) }
//! ```

mod error_reply;
mod fault;
mod http1;
mod log;
mod pipeline;
mod reply;
pub mod sdk_compat;
mod server;
mod wire;

pub use fault::{Fault, FaultPredicate};
pub use log::RecordedRequest;
pub use pipeline::{EditFormat, pipeline, quirks};
pub use reply::{MockReply, MockRequest, Responder, StopReason, Vendor, echo};
pub use server::{MockLlm, MockLlmBuilder};
