//! HTTP/1.1 connection handling over a raw socket: many requests on one
//! connection, chunked request bodies, and `Connection: close`.

use orch_mock_llm::{MockLlm, Vendor};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::support::{body, raw_post, read_response};

async fn connect(mock: &MockLlm) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(mock.addr()).await.unwrap())
}

#[tokio::test]
async fn two_requests_share_one_connection() {
    let mock = MockLlm::start().await.unwrap();
    let mut connection = connect(&mock).await;
    for word in ["first", "second"] {
        let request = raw_post("/v1/chat/completions", "", &body(Vendor::OpenAi, "m", "s", word).to_string());
        connection.get_mut().write_all(request.as_bytes()).await.unwrap();
        let response = read_response(&mut connection).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("connection"), Some("keep-alive"));
        assert_eq!(response.json()["choices"][0]["message"]["content"], word);
    }
    assert_eq!(mock.calls(), 2);
    assert_eq!(mock.connections(), 1);
}

#[tokio::test]
async fn pipelined_requests_in_one_write_are_all_answered() {
    let mock = MockLlm::start().await.unwrap();
    let mut connection = connect(&mock).await;
    let mut wire = String::new();
    for word in ["a", "b", "c"] {
        wire.push_str(&raw_post("/v1/messages", "", &body(Vendor::Anthropic, "m", "s", word).to_string()));
    }
    connection.get_mut().write_all(wire.as_bytes()).await.unwrap();
    for word in ["a", "b", "c"] {
        assert_eq!(read_response(&mut connection).await.json()["content"][0]["text"], word);
    }
}

#[tokio::test]
async fn chunked_request_bodies_are_decoded() {
    let mock = MockLlm::start().await.unwrap();
    let mut connection = connect(&mock).await;
    let json = body(Vendor::Gemini, "g", "s", "chunky").to_string();
    let (left, right) = json.split_at(json.len() / 2);
    let request = format!(
        "POST /v1beta/models/g:generateContent HTTP/1.1\r\nhost: mock\r\ntransfer-encoding: chunked\r\n\r\n\
         {:x}\r\n{left}\r\n{:x}\r\n{right}\r\n0\r\n\r\n",
        left.len(),
        right.len()
    );
    connection.get_mut().write_all(request.as_bytes()).await.unwrap();
    let response = read_response(&mut connection).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["candidates"][0]["content"]["parts"][0]["text"], "chunky");
    assert_eq!(mock.requests()[0].body, json.as_bytes());
}

#[tokio::test]
async fn connection_close_is_honoured() {
    let mock = MockLlm::start().await.unwrap();
    let mut connection = connect(&mock).await;
    let request =
        raw_post("/v1/chat/completions", "connection: close\r\n", &body(Vendor::OpenAi, "m", "s", "bye").to_string());
    connection.get_mut().write_all(request.as_bytes()).await.unwrap();
    let response = read_response(&mut connection).await;
    assert_eq!(response.header("connection"), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(connection.read_to_end(&mut rest).await.unwrap(), 0, "the server closed the connection");
}

#[tokio::test]
async fn garbage_gets_a_400_and_the_connection_closes() {
    let mock = MockLlm::start().await.unwrap();
    let mut connection = connect(&mock).await;
    connection.get_mut().write_all(b"HELLO THERE\r\n\r\n").await.unwrap();
    let response = read_response(&mut connection).await;
    assert_eq!(response.status, 400);
    let mut rest = Vec::new();
    assert_eq!(connection.read_to_end(&mut rest).await.unwrap(), 0);
}

#[tokio::test]
async fn reqwest_reuses_its_connection() {
    let mock = MockLlm::start().await.unwrap();
    let client = reqwest::Client::new();
    for word in ["one", "two", "three"] {
        let response = client
            .post(format!("{}/chat/completions", mock.base_url(Vendor::OpenAi)))
            .json(&body(Vendor::OpenAi, "m", "s", word))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains(word));
    }
    assert_eq!(mock.calls(), 3);
    assert_eq!(mock.connections(), 1);
}

#[tokio::test]
async fn dropping_the_mock_stops_it() {
    let mock = MockLlm::start().await.unwrap();
    let addr = mock.addr();
    let mut open = connect(&mock).await;
    let request = raw_post("/v1/chat/completions", "", &body(Vendor::OpenAi, "m", "s", "hi").to_string());
    open.get_mut().write_all(request.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut open).await.status, 200);
    drop(mock);

    let mut rest = Vec::new();
    // The open connection ends (cleanly or by reset) without another byte.
    let _ = open.read_to_end(&mut rest).await;
    assert!(rest.is_empty());
    // The listener goes away once the runtime has processed the abort.
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{addr} still accepts connections after the mock was dropped");
}
