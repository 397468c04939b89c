//! A minimal HTTP/1.1 server on 127.0.0.1 (port chosen by the OS) that counts
//! connections and records every request. It answers `/slow/MS` after MS
//! milliseconds, `/redirect` with a 302 to `/followed` on itself, and anything
//! else with 200 and the request's headers echoed in the body, one
//! `name: value` line each.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, e.g. `/v1/echo`.
    pub path: String,
    /// Header names (lowercase) and values in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// The running server; it stops when the tokio runtime does.
pub struct TestServer {
    addr: SocketAddr,
    seen: Arc<Seen>,
}

impl TestServer {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding a loopback port");
        let addr = listener.local_addr().expect("a bound listener has an address");
        let seen = Arc::new(Seen::default());
        let shared = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    if let Some(request) = serve(stream).await {
                        shared.requests.lock().expect("not poisoned").push(request);
                    }
                });
            }
        });
        Self { addr, seen }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.seen.requests.lock().expect("not poisoned").clone()
    }
}

async fn serve(mut stream: TcpStream) -> Option<RecordedRequest> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let (method, path) = (start.next()?.to_owned(), start.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let local = stream.local_addr().ok()?;
    let (status, extra, reply) = if let Some(ms) = path.strip_prefix("/slow/") {
        tokio::time::sleep(std::time::Duration::from_millis(ms.parse().unwrap_or(0))).await;
        ("200 OK", String::new(), "slow".to_owned())
    } else if path == "/gzip-echo" {
        // Encoded though nobody asked: what a hostile or careless origin may do.
        let echo: String = headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect();
        ("200 OK", "content-encoding: gzip\r\n".to_owned(), echo)
    } else if path == "/redirect" {
        ("302 Found", format!("location: http://{local}/followed\r\n"), String::new())
    } else {
        ("200 OK", String::new(), headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\n{extra}content-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    );
    stream.write_all(response.as_bytes()).await.ok()?;
    Some(RecordedRequest { method, path, headers, body })
}
