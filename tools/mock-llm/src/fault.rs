//! Fault injection: the [`Fault`] kinds, and the script that decides which
//! fault (if any) a request meets — a queue consumed one fault per request,
//! then standing rules that match requests by a predicate.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::reply::MockRequest;

/// Something going wrong instead of a normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with `status`. An empty `body` is replaced by the vendor's
    /// error shape (`{"error":{"message":…,"type":…}}` for OpenAI, likewise
    /// for Anthropic and Gemini); `retry_after` becomes a `retry-after` header.
    Status {
        /// The HTTP status, e.g. 429, 500, 401.
        status: u16,
        /// The `retry-after` header value, e.g. `"1"` or `"0.5"`.
        retry_after: Option<String>,
        /// The response body as is; empty for the vendor-shaped error.
        body: String,
    },
    /// Never answer; the connection stays open until the client gives up.
    Hang,
    /// Answer 200 with a body that is not valid JSON.
    Malformed,
    /// Close the connection without answering.
    Close,
}

impl Fault {
    /// `status` with the vendor-shaped error body and no `retry-after`.
    pub fn status(status: u16) -> Self {
        Self::Status { status, retry_after: None, body: String::new() }
    }

    /// 429 with the vendor-shaped error body and `retry-after` if given.
    pub fn rate_limited(retry_after: Option<&str>) -> Self {
        Self::Status { status: 429, retry_after: retry_after.map(str::to_owned), body: String::new() }
    }

    /// `status` with exactly `body`.
    pub fn status_with_body(status: u16, body: impl Into<String>) -> Self {
        Self::Status { status, retry_after: None, body: body.into() }
    }
}

impl std::str::FromStr for Fault {
    type Err = String;

    /// A fault by name, as the `mock-llm` command line takes it: an HTTP
    /// status from 400 to 599 (the vendor-shaped error body), `hang`,
    /// `close` or `malformed`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "hang" => Ok(Self::Hang),
            "close" => Ok(Self::Close),
            "malformed" => Ok(Self::Malformed),
            _ => match name.parse::<u16>() {
                Ok(status @ 400..=599) => Ok(Self::status(status)),
                _ => Err(format!(
                    "`{name}` is not a fault: give an HTTP status from 400 to 599, hang, close or malformed"
                )),
            },
        }
    }
}

/// Decides whether a request is faulted.
pub type FaultPredicate = Arc<dyn Fn(&MockRequest) -> bool + Send + Sync>;

/// The queue and the rules. The queue goes first: while it is not empty,
/// every request takes its front fault. Then the first rule whose predicate
/// matches applies, every time it matches.
#[derive(Default)]
pub(crate) struct FaultScript {
    queue: VecDeque<Fault>,
    rules: Vec<(FaultPredicate, Fault)>,
}

impl FaultScript {
    /// Appends faults to the queue.
    pub(crate) fn push(&mut self, faults: impl IntoIterator<Item = Fault>) {
        self.queue.extend(faults);
    }

    /// Adds a standing rule after the existing ones.
    pub(crate) fn add_rule(&mut self, predicate: FaultPredicate, fault: Fault) {
        self.rules.push((predicate, fault));
    }

    /// Empties the queue and removes every rule.
    pub(crate) fn clear(&mut self) {
        self.queue.clear();
        self.rules.clear();
    }

    /// Faults still queued.
    pub(crate) fn pending(&self) -> usize {
        self.queue.len()
    }

    /// True when no request can be faulted, so the lock can be skipped.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.rules.is_empty()
    }

    /// The fault `request` meets, consuming it if it came from the queue.
    pub(crate) fn next_for(&mut self, request: &MockRequest) -> Option<Fault> {
        self.queue.pop_front().or_else(|| self.rules.iter().find(|(p, _)| p(request)).map(|(_, f)| f.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Vendor;

    fn request(model: &str) -> MockRequest {
        MockRequest {
            vendor: Vendor::OpenAi,
            model: model.into(),
            system: None,
            messages: Vec::new(),
            max_tokens: None,
            headers: Vec::new(),
            path: "/v1/chat/completions".into(),
            query: String::new(),
            raw_body: Vec::new(),
        }
    }

    #[test]
    fn faults_parse_from_their_names() {
        assert_eq!("429".parse(), Ok(Fault::status(429)));
        assert_eq!("529".parse(), Ok(Fault::status(529)));
        assert_eq!("hang".parse(), Ok(Fault::Hang));
        assert_eq!("close".parse(), Ok(Fault::Close));
        assert_eq!("malformed".parse(), Ok(Fault::Malformed));
        for bad in ["200", "600", "slow", ""] {
            assert!(bad.parse::<Fault>().unwrap_err().contains("is not a fault"), "{bad}");
        }
    }

    #[test]
    fn queue_first_then_rules() {
        let mut script = FaultScript::default();
        script.push([Fault::Hang, Fault::Close]);
        script.add_rule(Arc::new(|r: &MockRequest| r.model == "bad"), Fault::status(500));
        assert_eq!(script.next_for(&request("bad")), Some(Fault::Hang));
        assert_eq!(script.next_for(&request("good")), Some(Fault::Close));
        assert_eq!(script.pending(), 0);
        assert_eq!(script.next_for(&request("good")), None);
        assert_eq!(script.next_for(&request("bad")), Some(Fault::status(500)));
        assert_eq!(script.next_for(&request("bad")), Some(Fault::status(500)));
        script.clear();
        assert!(script.is_empty());
    }
}
