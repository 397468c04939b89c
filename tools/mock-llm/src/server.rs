//! The server: [`MockLlm`] and its builder, the accept loop, one task per
//! connection serving kept-alive requests, and the per-request decision
//! (route, normalise, fault or responder, log) that connects them.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinSet};

use crate::error_reply::{self, ErrorReply};
use crate::fault::{Fault, FaultPredicate, FaultScript};
use crate::http1::{self, Connection, ReadError, Response};
use crate::log::{CallLog, RecordedRequest};
use crate::reply::{self, MockReply, MockRequest, Responder, Vendor};
use crate::wire::{self, Rejection};

/// Configures a [`MockLlm`] before it starts.
pub struct MockLlmBuilder {
    responder: Responder,
    latency: Duration,
    script: FaultScript,
    record: bool,
    addr: SocketAddr,
}

impl Default for MockLlmBuilder {
    fn default() -> Self {
        Self {
            responder: Arc::new(reply::echo),
            latency: Duration::ZERO,
            script: FaultScript::default(),
            record: true,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

impl MockLlmBuilder {
    /// Answers requests with `responder` instead of [`reply::echo`].
    pub fn responder(mut self, responder: impl Fn(&MockRequest) -> MockReply + Send + Sync + 'static) -> Self {
        self.responder = Arc::new(responder);
        self
    }

    /// Waits `latency` before every answer (zero by default).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Queues faults, taken one per request in order before the responder
    /// is asked.
    pub fn faults(mut self, faults: impl IntoIterator<Item = Fault>) -> Self {
        self.script.push(faults);
        self
    }

    /// Applies `fault` to every request `predicate` accepts, once the queue
    /// is empty. Rules are tried in the order they were added.
    pub fn fault_when(
        mut self,
        predicate: impl Fn(&MockRequest) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) -> Self {
        self.script.add_rule(Arc::new(predicate), fault);
        self
    }

    /// Whether to keep every request in the log (default) or only count
    /// them, for long benchmarks.
    pub fn record_requests(mut self, record: bool) -> Self {
        self.record = record;
        self
    }

    /// Listens on `addr` instead of `127.0.0.1` on a port the OS chooses.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(self) -> io::Result<MockLlm> {
        let listener = TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            responder: self.responder,
            latency_nanos: AtomicU64::new(nanos(self.latency)),
            has_faults: AtomicBool::new(!self.script.is_empty()),
            faults: Mutex::new(self.script),
            log: CallLog::new(self.record),
            connections: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
        });
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&shared))).abort_handle();
        Ok(MockLlm { addr, shared, server })
    }
}

/// A running fake LLM server. It stops when dropped (open connections are
/// closed) or when its tokio runtime shuts down.
pub struct MockLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: AbortHandle,
}

impl MockLlm {
    /// A builder with the defaults: echo responder, no latency, no faults,
    /// recording on, `127.0.0.1` on an OS-chosen port.
    pub fn builder() -> MockLlmBuilder {
        MockLlmBuilder::default()
    }

    /// Starts a server with the defaults.
    pub async fn start() -> io::Result<MockLlm> {
        Self::builder().start().await
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL a client of `vendor` is configured with:
    /// `http://127.0.0.1:PORT/v1` (OpenAI), `http://127.0.0.1:PORT`
    /// (Anthropic), `http://127.0.0.1:PORT/v1beta` (Gemini).
    pub fn base_url(&self, vendor: Vendor) -> String {
        format!("http://{}{}", self.addr, vendor.base_path())
    }

    /// Queues a fault behind those already queued.
    pub fn push_fault(&self, fault: Fault) {
        self.push_faults([fault]);
    }

    /// Queues faults behind those already queued.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.edit_faults(|script| script.push(faults));
    }

    /// Adds a standing rule: `fault` for every request `predicate` accepts
    /// once the queue is empty.
    pub fn fault_when(&self, predicate: impl Fn(&MockRequest) -> bool + Send + Sync + 'static, fault: Fault) {
        let predicate: FaultPredicate = Arc::new(predicate);
        self.shared.edit_faults(|script| script.add_rule(predicate, fault));
    }

    /// Removes every queued fault and every rule.
    pub fn clear_faults(&self) {
        self.shared.edit_faults(FaultScript::clear);
    }

    /// How many queued faults no request has taken yet.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock_faults().pending()
    }

    /// Changes the latency for requests answered from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.latency_nanos.store(nanos(latency), Ordering::Relaxed);
    }

    /// Requests received since the start or the last [`reset_log`](Self::reset_log),
    /// faulted and rejected ones included.
    pub fn calls(&self) -> u64 {
        self.shared.log.calls()
    }

    /// TCP connections accepted since the start (not zeroed by
    /// [`reset_log`](Self::reset_log)); with keep-alive working, far fewer
    /// than [`calls`](Self::calls).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// The recorded requests, oldest first (empty when recording is off).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.requests()
    }

    /// Forgets the recorded requests and zeroes [`calls`](Self::calls).
    pub fn reset_log(&self) {
        self.shared.log.reset();
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for MockLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockLlm").field("addr", &self.addr).field("calls", &self.calls()).finish_non_exhaustive()
    }
}

/// State every connection task shares. Locks are held for a push or a pop,
/// never across an await.
struct Shared {
    responder: Responder,
    latency_nanos: AtomicU64,
    /// False when the script is empty, so most requests skip its lock.
    has_faults: AtomicBool,
    faults: Mutex<FaultScript>,
    log: CallLog,
    /// TCP connections accepted since the start.
    connections: AtomicU64,
    next_id: AtomicU64,
}

/// What to do with the connection after a request.
enum Action {
    /// Write this response.
    Respond(Response),
    /// Never answer.
    Hang,
    /// Close without answering.
    Close,
}

impl Shared {
    fn lock_faults(&self) -> MutexGuard<'_, FaultScript> {
        // The script is always consistent between calls; a panicking
        // predicate cannot leave it half-edited.
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn edit_faults(&self, edit: impl FnOnce(&mut FaultScript)) {
        let mut script = self.lock_faults();
        edit(&mut script);
        self.has_faults.store(!script.is_empty(), Ordering::Relaxed);
    }

    fn next_fault(&self, request: &MockRequest) -> Option<Fault> {
        if !self.has_faults.load(Ordering::Relaxed) {
            return None;
        }
        let mut script = self.lock_faults();
        let fault = script.next_for(request);
        self.has_faults.store(!script.is_empty(), Ordering::Relaxed);
        fault
    }

    fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency_nanos.load(Ordering::Relaxed))
    }

    /// Routes, normalises and answers one request, and logs it.
    fn decide(&self, request: http1::Request) -> Action {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        match self.answer(request, id) {
            (vendor, Action::Respond(mut response)) => {
                response.headers.extend(error_reply::request_id_header(vendor, id));
                Action::Respond(response)
            }
            (_, action) => action,
        }
    }

    /// What to do with one request, and the vendor it spoke; logs it.
    fn answer(&self, request: http1::Request, id: u64) -> (Option<Vendor>, Action) {
        let http1::Request { head, body } = request;
        let (path, query) = head.target.split_once('?').unwrap_or((&head.target, ""));
        let record = |vendor, headers, body, status| {
            self.log.push(|| RecordedRequest {
                vendor,
                method: head.method.clone(),
                path: head.target.clone(),
                headers,
                body,
                status,
            });
        };
        let error = |vendor, status, message: &str, retry_after: Option<&str>| {
            let reply = ErrorReply { vendor, status, message, retry_after, id };
            let mut response = Response::json(status, reply.body());
            response.headers.extend(reply.headers());
            response
        };

        let Some((vendor, path_model)) = wire::route(path) else {
            let message = format!("mock-llm has no route for {} {path}", head.method);
            record(None, head.headers.clone(), body, Some(404));
            return (None, Action::Respond(error(None, 404, &message, None)));
        };
        if head.method != "POST" {
            let message = format!("{path} only accepts POST, not {}", head.method);
            record(Some(vendor), head.headers.clone(), body, Some(405));
            let mut response = error(Some(vendor), 405, &message, None);
            response.headers.push(("allow", "POST".to_owned()));
            return (Some(vendor), Action::Respond(response));
        }
        let parsed = match wire::parse(vendor, path_model, &body) {
            Ok(parsed) => parsed,
            Err(Rejection(message)) => {
                record(Some(vendor), head.headers.clone(), body, Some(400));
                return (Some(vendor), Action::Respond(error(Some(vendor), 400, &message, None)));
            }
        };
        let mock = MockRequest {
            vendor,
            model: parsed.model,
            system: parsed.system,
            messages: parsed.messages,
            max_tokens: parsed.max_tokens,
            headers: head.headers.clone(),
            path: path.to_owned(),
            query: query.to_owned(),
            raw_body: body,
        };

        let (action, status) = match self.next_fault(&mock) {
            Some(Fault::Status { status, retry_after, body }) => {
                let response = if body.is_empty() {
                    error(Some(vendor), status, &error_reply::fault_message(status), retry_after.as_deref())
                } else {
                    let mut response = if serde_json::from_str::<serde::de::IgnoredAny>(&body).is_ok() {
                        Response::json(status, body.into_bytes())
                    } else {
                        Response::text(status, body)
                    };
                    response.headers.extend(retry_after.map(|seconds| ("retry-after", seconds)));
                    response
                };
                (Action::Respond(response), Some(status))
            }
            Some(Fault::Malformed) => (Action::Respond(Response::json(200, wire::MALFORMED_BODY.to_vec())), Some(200)),
            Some(Fault::Hang) => (Action::Hang, None),
            Some(Fault::Close) => (Action::Close, None),
            None => {
                let response = self.ask_responder(&mock, id);
                let status = response.status;
                (Action::Respond(response), Some(status))
            }
        };
        record(Some(vendor), mock.headers, mock.raw_body, status);
        (Some(vendor), action)
    }

    /// The responder's reply rendered for the vendor; a responder that
    /// panics (say, a failed assertion in a test) gets a 500 naming it.
    fn ask_responder(&self, request: &MockRequest, id: u64) -> Response {
        match catch_unwind(AssertUnwindSafe(|| (self.responder)(request))) {
            Ok(reply) => Response::json(200, wire::render_reply(request, &reply, id)),
            Err(_) => {
                let message = "mock-llm: the responder panicked; see the test output";
                let reply = ErrorReply { vendor: Some(request.vendor), status: 500, message, retry_after: None, id };
                Response::json(500, reply.body())
            }
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Accepts connections until aborted; dropping the set of connection tasks
/// then aborts them too.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    connections.spawn(serve(stream, Arc::clone(&shared)));
                }
                // Out of file descriptors and the like: let some connections end.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves requests on one connection until the client closes it, asks to,
/// or a fault ends it.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    // Responses go out in one write; do not let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    let mut connection = Connection::new(stream);
    loop {
        let request = match connection.read_request().await {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Io) => return,
            Err(ReadError::Http(error)) => {
                let response = Response::text(error.status, error.message);
                let _ = connection.write_all(&response.encode(false)).await;
                return;
            }
        };
        let keep_alive = request.head.keep_alive();
        let action = shared.decide(request);
        let latency = shared.latency();
        if !latency.is_zero() && !matches!(action, Action::Hang) {
            tokio::time::sleep(latency).await;
        }
        match action {
            Action::Respond(response) => {
                if connection.write_all(&response.encode(keep_alive)).await.is_err() || !keep_alive {
                    return;
                }
            }
            Action::Hang => {
                connection.drain_until_closed().await;
                return;
            }
            Action::Close => return,
        }
    }
}
