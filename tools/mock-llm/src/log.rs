//! The call log tests read: how many requests arrived and, unless turned off,
//! each one as received with the status it got. Entries are written before
//! the response, so a client that has its answer finds its entry.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::reply::Vendor;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The wire format, `None` for a path no vendor serves.
    pub vendor: Option<Vendor>,
    /// The HTTP method.
    pub method: String,
    /// The request target as sent, query string included.
    pub path: String,
    /// Headers in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as received (de-chunked).
    pub body: Vec<u8>,
    /// The status answered, `None` when no answer was sent (a hang or a
    /// closed connection).
    pub status: Option<u16>,
}

impl RecordedRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The log. The lock is held only to push or copy, never across an await.
#[derive(Debug)]
pub(crate) struct CallLog {
    calls: AtomicU64,
    record: bool,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl CallLog {
    /// A log that keeps every request when `record`, else only counts them.
    pub(crate) fn new(record: bool) -> Self {
        Self { calls: AtomicU64::new(0), record, requests: Mutex::new(Vec::new()) }
    }

    /// Counts a request and keeps it if recording.
    pub(crate) fn push(&self, entry: impl FnOnce() -> RecordedRequest) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.record {
            let entry = entry();
            self.lock().push(entry);
        }
    }

    /// Requests received since the start or the last reset.
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// A copy of the recorded requests, oldest first.
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().clone()
    }

    /// Forgets every request and zeroes the count.
    pub(crate) fn reset(&self) {
        let mut requests = self.lock();
        requests.clear();
        self.calls.store(0, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        // A panic while pushing cannot leave the Vec half-written; keep going.
        self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
