//! Per-provider rate limits, shared by every task of a run: at most
//! `max_concurrency` calls in flight and `requests_per_minute` calls started
//! in any 60-second window. Set under `[plugins.NAME]` in `orch.toml`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The window `requests_per_minute` counts in.
const WINDOW: Duration = Duration::from_secs(60);

/// The limits of one provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct RateLimit {
    /// Calls in flight at once.
    pub max_concurrency: Option<usize>,
    /// Calls started in any 60 s.
    pub requests_per_minute: Option<u32>,
}

impl RateLimit {
    /// Checks that set limits are at least 1.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_concurrency == Some(0) || self.requests_per_minute == Some(0) {
            return Err("max_concurrency and requests_per_minute must be at least 1".into());
        }
        Ok(())
    }
}

struct Limiter {
    in_flight: Option<Arc<Semaphore>>,
    per_minute: Option<(usize, Mutex<VecDeque<Instant>>)>,
}

/// What a call holds while it runs.
#[derive(Debug)]
pub struct Permit {
    _in_flight: Option<OwnedSemaphorePermit>,
}

/// The limits of every provider that has any.
#[derive(Default)]
pub struct RateLimits {
    by_provider: HashMap<String, Limiter>,
}

impl RateLimits {
    /// Limiters for `limits` (provider name → limits).
    pub fn new(limits: &BTreeMap<String, RateLimit>) -> Self {
        let by_provider = limits
            .iter()
            .map(|(name, limit)| {
                let limiter = Limiter {
                    in_flight: limit.max_concurrency.map(|n| Arc::new(Semaphore::new(n))),
                    per_minute: limit.requests_per_minute.map(|n| (n as usize, Mutex::new(VecDeque::new()))),
                };
                (name.clone(), limiter)
            })
            .collect();
        Self { by_provider }
    }

    /// Waits until `provider` may start a call; hold the permit until it ends.
    pub async fn acquire(&self, provider: &str) -> Permit {
        let Some(limiter) = self.by_provider.get(provider) else {
            return Permit { _in_flight: None };
        };
        let in_flight = match &limiter.in_flight {
            Some(semaphore) => {
                Some(Arc::clone(semaphore).acquire_owned().await.expect("the semaphore is never closed"))
            }
            None => None,
        };
        if let Some((max, started)) = &limiter.per_minute {
            loop {
                let mut started = started.lock().await;
                let now = Instant::now();
                while started.front().is_some_and(|&t| now.duration_since(t) >= WINDOW) {
                    started.pop_front();
                }
                if started.len() < *max {
                    started.push_back(now);
                    break;
                }
                let free_at = started[0] + WINDOW;
                drop(started);
                tokio::time::sleep_until(free_at).await;
            }
        }
        Permit { _in_flight: in_flight }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn limits(provider: &str, limit: RateLimit) -> Arc<RateLimits> {
        Arc::new(RateLimits::new(&BTreeMap::from([(provider.to_owned(), limit)])))
    }

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_spread_starts_over_windows() {
        let limits = limits("p", RateLimit { max_concurrency: None, requests_per_minute: Some(2) });
        let start = Instant::now();
        let mut offsets = Vec::new();
        for _ in 0..5 {
            let _permit = limits.acquire("p").await;
            offsets.push(start.elapsed().as_secs());
        }
        assert_eq!(offsets, [0, 0, 60, 60, 120]);
        let unlimited_start = Instant::now();
        for _ in 0..100 {
            let _permit = limits.acquire("other").await;
        }
        assert_eq!(unlimited_start.elapsed(), Duration::ZERO, "providers without limits never wait");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_the_window() {
        let limits = limits("p", RateLimit { max_concurrency: None, requests_per_minute: Some(3) });
        let start = Instant::now();
        let tasks: Vec<_> = (0..7)
            .map(|_| {
                let limits = Arc::clone(&limits);
                tokio::spawn(async move {
                    let _permit = limits.acquire("p").await;
                    start.elapsed().as_secs()
                })
            })
            .collect();
        let mut offsets = Vec::new();
        for task in tasks {
            offsets.push(task.await.unwrap());
        }
        offsets.sort_unstable();
        assert_eq!(offsets, [0, 0, 0, 60, 60, 60, 120]);
    }

    #[tokio::test(start_paused = true)]
    async fn max_concurrency_bounds_calls_in_flight() {
        let limits = limits("p", RateLimit { max_concurrency: Some(2), requests_per_minute: None });
        let live = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (limits, live, peak) = (Arc::clone(&limits), Arc::clone(&live), Arc::clone(&peak));
                tokio::spawn(async move {
                    let _permit = limits.acquire("p").await;
                    peak.fetch_max(live.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    live.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        let start = Instant::now();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(start.elapsed(), Duration::from_secs(3), "6 calls of 1 s, 2 at a time");
    }

    #[test]
    fn zero_limits_are_refused() {
        assert!(RateLimit { max_concurrency: Some(0), requests_per_minute: None }.validate().is_err());
        assert!(RateLimit { max_concurrency: None, requests_per_minute: Some(0) }.validate().is_err());
        assert!(RateLimit { max_concurrency: Some(1), requests_per_minute: Some(1) }.validate().is_ok());
    }
}
