//! HTTP/1.1 on the wire, written by hand: reading requests (head, then a
//! `Content-Length` or `Transfer-Encoding: chunked` body) from a kept-alive
//! connection, and writing whole responses in one buffer. Only what an LLM
//! client sends is supported; anything else is a 4xx and the connection ends.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// How much free buffer space a read asks for at least.
const READ_CHUNK: usize = 16 * 1024;

/// A request the client sent that cannot be served: answered with `status`
/// and the connection closed, since the stream position is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The status to answer with (400, 413, 431, 501, 505).
    pub status: u16,
    /// Why, for the response body.
    pub message: String,
}

impl HttpError {
    fn new(status: u16, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

/// Why reading a request stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The socket failed, or the peer closed it in the middle of a request;
    /// there is no one left to answer, so the cause is not kept.
    Io,
    /// The bytes are not a request we serve.
    Http(HttpError),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        Self::Io
    }
}

impl From<HttpError> for ReadError {
    fn from(e: HttpError) -> Self {
        Self::Http(e)
    }
}

/// A request line and its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `GET`, `POST`, ... as sent.
    pub method: String,
    /// The request target as sent, query string included.
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Headers in the order received, names as sent.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the client wants the connection kept open after this request:
    /// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `keep-alive`.
    pub fn keep_alive(&self) -> bool {
        let has = |token: &str| {
            self.header("connection").is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        };
        if self.minor_version == 0 { has("keep-alive") } else { !has("close") }
    }

    /// How the body is framed.
    fn body_framing(&self) -> Result<Framing, HttpError> {
        if let Some(coding) = self.header("transfer-encoding") {
            // Only `chunked` alone is supported; other codings are not sent by LLM clients.
            return if coding.trim().eq_ignore_ascii_case("chunked") {
                Ok(Framing::Chunked)
            } else {
                Err(HttpError::new(501, format!("transfer-encoding `{coding}` is not supported")))
            };
        }
        let mut lengths = self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("content-length"));
        let Some((_, first)) = lengths.next() else {
            return Ok(Framing::Length(0));
        };
        let length: usize = first
            .trim()
            .parse()
            .map_err(|_| HttpError::new(400, format!("content-length `{first}` is not a number")))?;
        if lengths.any(|(_, other)| other.trim() != first.trim()) {
            return Err(HttpError::new(400, "conflicting content-length headers"));
        }
        Ok(Framing::Length(length))
    }
}

/// A whole request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Request line and headers.
    pub head: Head,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
}

/// The end of the head in `buf` (the index after the blank line), looking
/// only at bytes from `from` on (minus the three a terminator can straddle),
/// so repeated calls over a growing buffer stay linear. Bare `\n` line ends
/// are accepted as well as `\r\n`.
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let mut i = start;
    while let Some(offset) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let nl = i + offset;
        match buf.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// Parses a request head (everything up to and including the blank line).
pub fn parse_head(bytes: &[u8]) -> Result<Head, HttpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| HttpError::new(400, "the request head is not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::new(400, format!("malformed request line `{request_line}`")));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) || !target.starts_with('/') {
        return Err(HttpError::new(400, format!("malformed request line `{request_line}`")));
    }
    let minor_version = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        other => return Err(HttpError::new(505, format!("`{other}` is not supported; speak HTTP/1.1"))),
    };
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) =
            line.split_once(':').ok_or_else(|| HttpError::new(400, format!("malformed header line `{line}`")))?;
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(HttpError::new(400, format!("malformed header name `{name}`")));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(Head { method: method.to_owned(), target: target.to_owned(), minor_version, headers })
}

/// Decodes a `Transfer-Encoding: chunked` body fed in pieces as they arrive.
#[derive(Debug, Default)]
pub struct ChunkedDecoder {
    state: ChunkState,
    body: Vec<u8>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Expecting a `size[;extensions]` line.
    #[default]
    Size,
    /// Inside a chunk, this many bytes to go.
    Data(usize),
    /// Expecting the line end after a chunk's data.
    DataEnd,
    /// After the last chunk, skipping trailer lines up to the blank one.
    Trailers,
    /// The body is complete.
    Done,
}

impl ChunkedDecoder {
    /// Consumes as much of `input` as forms complete pieces and returns how
    /// many bytes it used; call again with the rest plus more input.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, HttpError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                ChunkState::Done => return Ok(pos),
                ChunkState::Data(left) => {
                    let take = left.min(rest.len());
                    self.body.extend_from_slice(&rest[..take]);
                    pos += take;
                    self.state = if take == left { ChunkState::DataEnd } else { ChunkState::Data(left - take) };
                    if take < left {
                        return Ok(pos);
                    }
                }
                ChunkState::Size | ChunkState::DataEnd | ChunkState::Trailers => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > 4096 {
                            return Err(HttpError::new(400, "a chunk line is too long"));
                        }
                        return Ok(pos);
                    };
                    let line = &rest[..nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    pos += nl + 1;
                    self.state = self.after_line(line)?;
                }
            }
        }
    }

    fn after_line(&self, line: &[u8]) -> Result<ChunkState, HttpError> {
        match self.state {
            ChunkState::DataEnd if line.is_empty() => Ok(ChunkState::Size),
            ChunkState::DataEnd => Err(HttpError::new(400, "chunk data is longer than its size")),
            ChunkState::Trailers if line.is_empty() => Ok(ChunkState::Done),
            ChunkState::Trailers => Ok(ChunkState::Trailers),
            _ => {
                let digits = line.split(|&b| b == b';').next().unwrap_or_default();
                let size = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                    .ok_or_else(|| HttpError::new(400, "malformed chunk size"))?;
                if self.body.len().saturating_add(size) > MAX_BODY_BYTES {
                    return Err(HttpError::new(413, format!("the body is larger than {MAX_BODY_BYTES} bytes")));
                }
                Ok(if size == 0 { ChunkState::Trailers } else { ChunkState::Data(size) })
            }
        }
    }

    /// True once the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// The decoded body.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}

/// One end of an HTTP/1.1 connection, server side: a stream plus the bytes
/// read from it that no request has used yet.
#[derive(Debug)]
pub struct Connection<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps an accepted stream.
    pub fn new(stream: S) -> Self {
        Self { stream, buf: Vec::with_capacity(READ_CHUNK) }
    }

    /// Reads the next request. `Ok(None)` when the client closed the
    /// connection cleanly between requests.
    pub async fn read_request(&mut self) -> Result<Option<Request>, ReadError> {
        let mut scanned = 0;
        let head_end = loop {
            // Blank lines before a request line are ignored (RFC 9112 §2.2).
            let blank = self.buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            if blank > 0 {
                self.buf.drain(..blank);
                scanned = 0;
            }
            if let Some(end) = find_head_end(&self.buf, scanned) {
                break end;
            }
            scanned = self.buf.len();
            if scanned > MAX_HEAD_BYTES {
                return Err(
                    HttpError::new(431, format!("the request head is larger than {MAX_HEAD_BYTES} bytes")).into()
                );
            }
            if self.fill().await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a request head").into())
                };
            }
        };
        let head = parse_head(&self.buf[..head_end])?;
        let body = match head.body_framing()? {
            Framing::Length(length) => {
                if length > MAX_BODY_BYTES {
                    return Err(HttpError::new(413, format!("the body is larger than {MAX_BODY_BYTES} bytes")).into());
                }
                let end = head_end + length;
                if self.buf.len() < end {
                    self.continue_if_expected(&head).await?;
                    self.buf.reserve(end - self.buf.len());
                }
                while self.buf.len() < end {
                    if self.fill().await? == 0 {
                        return Err(
                            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a body").into()
                        );
                    }
                }
                let body = self.buf[head_end..end].to_vec();
                self.buf.drain(..end);
                body
            }
            Framing::Chunked => {
                self.buf.drain(..head_end);
                let mut decoder = ChunkedDecoder::default();
                let used = decoder.feed(&self.buf)?;
                self.buf.drain(..used);
                if !decoder.is_done() {
                    self.continue_if_expected(&head).await?;
                }
                while !decoder.is_done() {
                    if self.fill().await? == 0 {
                        return Err(
                            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a body").into()
                        );
                    }
                    let used = decoder.feed(&self.buf)?;
                    self.buf.drain(..used);
                }
                decoder.into_body()
            }
        };
        Ok(Some(Request { head, body }))
    }

    /// Answers `Expect: 100-continue` so the client sends the body.
    async fn continue_if_expected(&mut self, head: &Head) -> io::Result<()> {
        if head.minor_version == 1 && head.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        Ok(())
    }

    /// Reads more bytes into the buffer; 0 at end of stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// Writes `bytes` (a whole response) and flushes.
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Waits until the client closes the connection, discarding what it
    /// sends. Used to hang a request without leaking the connection.
    pub async fn drain_until_closed(&mut self) {
        loop {
            self.buf.clear();
            match self.fill().await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

/// A response about to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Extra headers; `content-length` and `connection` are added on write.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Self { status, headers: vec![("content-type", "application/json".to_owned())], body }
    }

    /// A plain-text response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("content-type", "text/plain; charset=utf-8".to_owned())],
            body: body.into().into_bytes(),
        }
    }

    /// The response as bytes on the wire, announcing whether the connection
    /// stays open.
    pub fn encode(&self, keep_alive: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + self.body.len());
        let reason = reason_phrase(self.status);
        out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", self.status).as_bytes());
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        let connection = if keep_alive { "keep-alive" } else { "close" };
        out.extend_from_slice(
            format!("content-length: {}\r\nconnection: {connection}\r\n\r\n", self.body.len()).as_bytes(),
        );
        out.extend_from_slice(&self.body);
        out
    }
}

/// The standard reason phrase of `status`, or a generic one.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        529 => "Overloaded",
        _ => match status / 100 {
            1 => "Informational",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            _ => "Server Error",
        },
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    #[test]
    fn head_end_is_found_across_reads() {
        let head = b"POST / HTTP/1.1\r\nhost: x\r\n\r\nbody";
        assert_eq!(find_head_end(head, 0), Some(head.len() - 4));
        for split in 0..head.len() {
            // Searching from where the previous (shorter) buffer ended finds the same end.
            assert_eq!(find_head_end(head, split.min(head.len() - 4)), Some(head.len() - 4), "{split}");
        }
        assert_eq!(find_head_end(b"GET / HTTP/1.1\nhost: x\n\n", 0), Some(24));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nhost: x\r\n", 0), None);
    }

    #[test]
    fn heads_parse() {
        let head = parse_head(b"POST /v1/messages?beta=1 HTTP/1.1\r\nHost: a\r\nX-Api-Key:  k \r\n\r\n").unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.target, "/v1/messages?beta=1");
        assert_eq!(head.minor_version, 1);
        assert_eq!(head.headers, vec![("Host".into(), "a".into()), ("X-Api-Key".into(), "k".into())]);
        assert_eq!(head.header("x-api-key"), Some("k"));
        assert!(head.keep_alive());
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        let ka = |raw: &[u8]| parse_head(raw).unwrap().keep_alive();
        assert!(!ka(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n"));
    }

    #[test]
    fn bad_heads_are_4xx_or_5xx() {
        assert_eq!(parse_head(b"hello\r\n\r\n").unwrap_err().status, 400);
        assert_eq!(parse_head(b"GET / HTTP/2.0\r\n\r\n").unwrap_err().status, 505);
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nno colon\r\n\r\n").unwrap_err().status, 400);
        let head = parse_head(b"POST / HTTP/1.1\r\ncontent-length: x\r\n\r\n").unwrap();
        assert_eq!(head.body_framing().unwrap_err().status, 400);
        let head = parse_head(b"POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n").unwrap();
        assert_eq!(head.body_framing().unwrap_err().status, 501);
    }

    #[test]
    fn chunked_bodies_decode_in_any_split() {
        let wire = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\ntrailer: x\r\n\r\nNEXT";
        for split in 0..wire.len() {
            let mut decoder = ChunkedDecoder::default();
            let mut pending = wire[..split].to_vec();
            let used = decoder.feed(&pending).unwrap();
            pending.drain(..used);
            pending.extend_from_slice(&wire[split..]);
            let used = decoder.feed(&pending).unwrap();
            assert!(decoder.is_done(), "{split}");
            assert_eq!(&pending[used..], b"NEXT", "{split}");
            assert_eq!(decoder.into_body(), b"hello, world", "{split}");
        }
        assert_eq!(ChunkedDecoder::default().feed(b"zz\r\n").unwrap_err().status, 400);
        assert_eq!(ChunkedDecoder::default().feed(b"1\r\nab\r\n").unwrap_err().status, 400);
    }

    #[tokio::test]
    async fn reads_requests_back_to_back_on_one_connection() {
        let (client, server) = duplex(64);
        let mut connection = Connection::new(server);
        let writer = tokio::spawn(async move {
            let mut client = client;
            client
                .write_all(
                    b"\r\nPOST /a HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\n\
                      transfer-encoding: chunked\r\nexpect: 100-continue\r\n\r\n",
                )
                .await
                .unwrap();
            let mut interim = [0u8; 25];
            client.read_exact(&mut interim).await.unwrap();
            assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
            client.write_all(b"2\r\nde\r\n0\r\n\r\n").await.unwrap();
            client
        });
        let first = connection.read_request().await.unwrap().unwrap();
        assert_eq!((first.head.target.as_str(), first.body.as_slice()), ("/a", &b"abc"[..]));
        let second = connection.read_request().await.unwrap().unwrap();
        assert_eq!((second.head.target.as_str(), second.body.as_slice()), ("/b", &b"de"[..]));
        drop(writer.await.unwrap());
        assert!(connection.read_request().await.unwrap().is_none());
    }

    #[test]
    fn responses_encode_with_length_and_connection() {
        let wire = Response::json(429, b"{}".to_vec()).encode(false);
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n\
             content-length: 2\r\nconnection: close\r\n\r\n{}"
        );
    }
}
