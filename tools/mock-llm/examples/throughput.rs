//! Prints how many requests a second the mock answers over kept-alive
//! connections from a reqwest client pool. A measurement, not a test:
//! `cargo run --release -p orch-mock-llm --example throughput [SECONDS] [WORKERS]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use orch_mock_llm::{MockLlm, Vendor};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map_or(Ok(5), |s| s.parse())?;
    let workers: usize = args.next().map_or(Ok(32), |s| s.parse())?;

    let mock = MockLlm::builder().record_requests(false).start().await?;
    let url = format!("{}/chat/completions", mock.base_url(Vendor::OpenAi));
    let body = serde_json::to_vec(&json!({
        "model": "bench",
        "max_tokens": 256,
        "messages": [
            {"role": "system", "content": "You are a careful planner."},
            {"role": "user", "content": "Split the task add-retry-jitter into steps."},
        ],
    }))?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(workers).build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));

    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            let (stop, done, failed) = (Arc::clone(&stop), Arc::clone(&done), Arc::clone(&failed));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let outcome = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .and_then(reqwest::Response::error_for_status);
                    let ok = match outcome {
                        Ok(response) => response.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok { &done } else { &failed }.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = done.load(Ordering::Relaxed);
    println!(
        "{done} requests in {elapsed:.2} s with {workers} workers: {:.0} requests/s ({} failed, server counted {})",
        done as f64 / elapsed,
        failed.load(Ordering::Relaxed),
        mock.calls()
    );
    Ok(())
}
