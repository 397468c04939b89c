//! Retrying effectful calls: the policy (immediate, exponential backoff with
//! jitter, fixed delay; max attempts; per-attempt timeout; overall deadline),
//! the typed [`CallError`] every plugin call fails with, and its
//! classification into retry, fall back to the next model, or stop.
//! Time comes from tokio's clock, so tests run it paused and exact.

use std::future::Future;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::sandbox::{PluginError, SandboxError};

/// What kind of failure a call ended in; decides what happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Timeouts, 5xx, dropped connections: worth another try.
    Transient,
    /// The provider asked us to slow down, optionally saying for how long.
    RateLimited(Option<Duration>),
    /// Authentication, bad request, a broken plugin: retrying the same call
    /// will not help, another model might.
    Fatal,
    /// Our request was wrong; no model will take it.
    InvalidInput,
    /// A capability the plugin was not granted.
    Denied,
    /// Money ran out.
    BudgetExceeded,
}

/// A failed plugin call: its kind and a message naming the plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    /// How to treat it.
    pub kind: ErrorKind,
    /// What happened, for people.
    pub message: String,
}

impl CallError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

impl From<SandboxError> for CallError {
    fn from(err: SandboxError) -> Self {
        let kind = match &err {
            SandboxError::Plugin { error, .. } => match error {
                PluginError::Transient(_) => ErrorKind::Transient,
                PluginError::RateLimited(ms) => ErrorKind::RateLimited(ms.map(Duration::from_millis)),
                PluginError::Fatal(_) => ErrorKind::Fatal,
                PluginError::InvalidInput(_) => ErrorKind::InvalidInput,
                PluginError::Denied(_) => ErrorKind::Denied,
                PluginError::BudgetExceeded(_) => ErrorKind::BudgetExceeded,
            },
            // A call that ran out of time waiting (on the network) may well
            // succeed next time; one that spun in its own code will spin again.
            SandboxError::Deadline { spinning: false, .. } => ErrorKind::Transient,
            // A broken or misconfigured plugin: another model may still work.
            _ => ErrorKind::Fatal,
        };
        Self { kind, message: err.to_string() }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try the same call again, waiting at least this long (rate limits).
    Retry { at_least: Duration },
    /// Give up on this model; the router's next fallback may be tried.
    Fallback,
    /// Give up on the call altogether.
    Stop,
}

/// The classification: transient and rate-limited are retried; fatal moves
/// on to a fallback model; invalid input, denials and budgets stop.
pub fn classify(kind: ErrorKind) -> Decision {
    match kind {
        ErrorKind::Transient => Decision::Retry { at_least: Duration::ZERO },
        ErrorKind::RateLimited(after) => Decision::Retry { at_least: after.unwrap_or_default() },
        ErrorKind::Fatal => Decision::Fallback,
        ErrorKind::InvalidInput | ErrorKind::Denied | ErrorKind::BudgetExceeded => Decision::Stop,
    }
}

/// How long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backoff {
    /// Retry at once.
    Immediate,
    /// Always wait the same time.
    Fixed(Duration),
    /// `initial × factor^(n-1)`, capped, minus up to `jitter` of itself at random.
    Exponential {
        /// The first delay.
        initial: Duration,
        /// Growth per attempt.
        factor: f64,
        /// The largest delay.
        max: Duration,
        /// Fraction (0–1) of each delay drawn at random and taken off, so
        /// concurrent tasks do not retry in lockstep.
        jitter: f64,
    },
}

/// A retry policy. The default is the seed's: 3 attempts, exponential from
/// 1 s doubling to at most 60 s with 20 % jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay strategy.
    pub backoff: Backoff,
    /// Attempts per model, including the first.
    pub max_attempts: u32,
    /// Time limit for one attempt.
    pub attempt_timeout: Option<Duration>,
    /// Time limit for all attempts together, waits included.
    pub deadline: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            backoff: Backoff::Exponential {
                initial: Duration::from_secs(1),
                factor: 2.0,
                max: Duration::from_secs(60),
                jitter: 0.2,
            },
            max_attempts: 3,
            attempt_timeout: None,
            deadline: None,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based); `unit` is a
    /// random draw in `[0, 1)` used for jitter.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        match self.backoff {
            Backoff::Immediate => Duration::ZERO,
            Backoff::Fixed(delay) => delay,
            Backoff::Exponential { initial, factor, max, jitter } => {
                let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
                let raw = initial.as_secs_f64() * factor.powi(exponent);
                let capped = raw.min(max.as_secs_f64());
                Duration::from_secs_f64(capped * (1.0 - jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0)))
            }
        }
    }
}

/// One retry about to happen, for logging.
#[derive(Debug, Clone)]
pub struct RetryNotice<'a> {
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// How long until the next one.
    pub delay: Duration,
    /// Why it failed.
    pub error: &'a CallError,
}

/// Why retrying ended without a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error} (after {attempts} attempt{})", if *attempts == 1 { "" } else { "s" })]
pub struct GaveUp {
    /// The last error.
    pub error: CallError,
    /// Attempts made.
    pub attempts: u32,
    /// What the classification says to do now.
    pub decision: Decision,
}

/// Runs `op(attempt)` under `policy`, calling `notice` before every retry.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    mut op: F,
    mut notice: impl FnMut(RetryNotice<'_>),
) -> Result<T, GaveUp>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let started = Instant::now();
    let deadline = policy.deadline.map(|d| started + d);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let timeout = match (policy.attempt_timeout, deadline) {
            (Some(t), Some(d)) => Some(t.min(d.saturating_duration_since(Instant::now()))),
            (t, d) => t.or_else(|| d.map(|d| d.saturating_duration_since(Instant::now()))),
        };
        let result = match timeout {
            Some(limit) => tokio::time::timeout(limit, op(attempt)).await.unwrap_or_else(|_| {
                Err(CallError::new(ErrorKind::Transient, format!("attempt timed out after {} ms", limit.as_millis())))
            }),
            None => op(attempt).await,
        };
        let error = match result {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let at_least = match classify(error.kind) {
            Decision::Retry { at_least } if attempt < policy.max_attempts => at_least,
            Decision::Retry { .. } => return Err(GaveUp { error, attempts: attempt, decision: Decision::Fallback }),
            decision => return Err(GaveUp { error, attempts: attempt, decision }),
        };
        let delay = policy.delay(attempt, fastrand::f64()).max(at_least);
        if deadline.is_some_and(|d| Instant::now() + delay >= d) {
            let error = CallError::new(
                error.kind,
                format!("{}; the retry deadline leaves no time for another attempt", error.message),
            );
            return Err(GaveUp { error, attempts: attempt, decision: Decision::Fallback });
        }
        notice(RetryNotice { attempt, delay, error: &error });
        tokio::time::sleep(delay).await;
    }
}

/// The `[retry]` section of `orch.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// `exponential` (default), `fixed` or `immediate`.
    pub strategy: Strategy,
    /// First (exponential) or every (fixed) delay, in ms.
    pub delay_ms: u64,
    /// Growth factor for exponential backoff.
    pub factor: f64,
    /// Cap on one delay, in ms.
    pub max_delay_ms: u64,
    /// Jitter fraction, 0–1.
    pub jitter: f64,
    /// Attempts per model.
    pub max_attempts: u32,
    /// Time limit per attempt, in ms (none by default: the plugin's own timeout applies).
    pub attempt_timeout_ms: Option<u64>,
    /// Time limit for all attempts of one call, in ms.
    pub deadline_ms: Option<u64>,
}

/// The delay strategies by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// No wait.
    Immediate,
    /// A constant wait.
    Fixed,
    /// Growing waits.
    Exponential,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::Exponential,
            delay_ms: 1000,
            factor: 2.0,
            max_delay_ms: 60_000,
            jitter: 0.2,
            max_attempts: 3,
            attempt_timeout_ms: None,
            deadline_ms: None,
        }
    }
}

impl RetryConfig {
    /// The policy this section describes, or what is wrong with it.
    pub fn policy(&self) -> Result<RetryPolicy, String> {
        if self.max_attempts == 0 {
            return Err("[retry] max_attempts must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.jitter) || !(1.0..=f64::MAX).contains(&self.factor) {
            return Err("[retry] jitter must be within 0..=1 and factor at least 1".into());
        }
        let delay = Duration::from_millis(self.delay_ms);
        let backoff = match self.strategy {
            Strategy::Immediate => Backoff::Immediate,
            Strategy::Fixed => Backoff::Fixed(delay),
            Strategy::Exponential => Backoff::Exponential {
                initial: delay,
                factor: self.factor,
                max: Duration::from_millis(self.max_delay_ms),
                jitter: self.jitter,
            },
        };
        Ok(RetryPolicy {
            backoff,
            max_attempts: self.max_attempts,
            attempt_timeout: self.attempt_timeout_ms.map(Duration::from_millis),
            deadline: self.deadline_ms.map(Duration::from_millis),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn transient() -> CallError {
        CallError::new(ErrorKind::Transient, "503 service unavailable")
    }

    fn no_jitter() -> RetryPolicy {
        let mut policy = RetryPolicy::default();
        if let Backoff::Exponential { jitter, .. } = &mut policy.backoff {
            *jitter = 0.0;
        }
        policy
    }

    #[test]
    fn exponential_doubles_from_one_second_and_caps_at_sixty() {
        let policy = no_jitter();
        let delays: Vec<u64> = (1..=8).map(|n| policy.delay(n, 0.5).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        let jittered = RetryPolicy::default();
        assert_eq!(jittered.delay(3, 0.0), Duration::from_secs(4), "no draw, no jitter");
        assert_eq!(jittered.delay(3, 1.0), Duration::from_secs_f64(3.2), "20 % at most");
        assert_eq!(
            RetryPolicy { backoff: Backoff::Fixed(Duration::from_millis(7)), ..no_jitter() }.delay(5, 0.9).as_millis(),
            7
        );
        assert_eq!(RetryPolicy { backoff: Backoff::Immediate, ..no_jitter() }.delay(5, 0.9), Duration::ZERO);
    }

    #[test]
    fn classification_follows_the_error_type() {
        assert_eq!(classify(ErrorKind::Transient), Decision::Retry { at_least: Duration::ZERO });
        assert_eq!(
            classify(ErrorKind::RateLimited(Some(Duration::from_secs(7)))),
            Decision::Retry { at_least: Duration::from_secs(7) }
        );
        assert_eq!(classify(ErrorKind::Fatal), Decision::Fallback);
        for kind in [ErrorKind::InvalidInput, ErrorKind::Denied, ErrorKind::BudgetExceeded] {
            assert_eq!(classify(kind), Decision::Stop, "{kind:?}");
        }
        let plugin = crate::sandbox::PluginId { name: "p".into(), version: None };
        let err = SandboxError::Plugin { plugin: plugin.clone(), error: PluginError::RateLimited(Some(1500)) };
        assert_eq!(CallError::from(err).kind, ErrorKind::RateLimited(Some(Duration::from_millis(1500))));
        assert_eq!(
            CallError::from(SandboxError::Deadline { plugin: plugin.clone(), limit_ms: 5, spinning: false }).kind,
            ErrorKind::Transient
        );
        let spun = SandboxError::Deadline { plugin: plugin.clone(), limit_ms: 5, spinning: true };
        assert_eq!(CallError::from(spun).kind, ErrorKind::Fatal, "a loop is not tried again");
        assert_eq!(CallError::from(SandboxError::Trap { plugin, message: "x".into() }).kind, ErrorKind::Fatal);
    }

    /// Runs `policy` against a script of outcomes, returning the result, the
    /// virtual time each attempt started at (ms) and the notices.
    async fn run_script(
        policy: &RetryPolicy,
        script: Vec<Result<&'static str, CallError>>,
    ) -> (Result<&'static str, GaveUp>, Vec<u128>, Vec<(u32, u128)>) {
        let start = Instant::now();
        let script = Mutex::new(script.into_iter());
        let starts = Mutex::new(Vec::new());
        let mut notices = Vec::new();
        let result = retry(
            policy,
            |_| {
                starts.lock().unwrap().push(start.elapsed().as_millis());
                let next = script.lock().unwrap().next().expect("the script covers every attempt");
                async move { next }
            },
            |n| notices.push((n.attempt, n.delay.as_millis())),
        )
        .await;
        (result, starts.into_inner().unwrap(), notices)
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_with_backoff() {
        let (result, starts, notices) =
            run_script(&no_jitter(), vec![Err(transient()), Err(transient()), Ok("done")]).await;
        assert_eq!(result.unwrap(), "done");
        assert_eq!(starts, [0, 1000, 3000]);
        assert_eq!(notices, [(1, 1000), (2, 2000)]);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_run_out_and_suggest_a_fallback() {
        let (result, starts, _) =
            run_script(&no_jitter(), vec![Err(transient()), Err(transient()), Err(transient())]).await;
        let gave_up = result.unwrap_err();
        assert_eq!((gave_up.attempts, gave_up.decision), (3, Decision::Fallback));
        assert_eq!(starts.len(), 3);
        assert!(gave_up.to_string().contains("after 3 attempts"), "{gave_up}");
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limits_wait_at_least_the_retry_after() {
        let limited = CallError::new(ErrorKind::RateLimited(Some(Duration::from_millis(4500))), "429");
        let (result, starts, _) = run_script(&no_jitter(), vec![Err(limited), Ok("ok")]).await;
        assert_eq!(result.unwrap(), "ok");
        assert_eq!(starts, [0, 4500], "the 1 s backoff is raised to the 4.5 s asked for");
        let short = CallError::new(ErrorKind::RateLimited(Some(Duration::from_millis(10))), "429");
        let (_, starts, _) = run_script(&no_jitter(), vec![Err(short), Ok("ok")]).await;
        assert_eq!(starts, [0, 1000], "a shorter retry-after does not shorten the backoff");
    }

    #[tokio::test(start_paused = true)]
    async fn non_retryable_errors_stop_at_once() {
        for (kind, decision) in [
            (ErrorKind::Fatal, Decision::Fallback),
            (ErrorKind::InvalidInput, Decision::Stop),
            (ErrorKind::Denied, Decision::Stop),
            (ErrorKind::BudgetExceeded, Decision::Stop),
        ] {
            let (result, starts, notices) = run_script(&no_jitter(), vec![Err(CallError::new(kind, "no"))]).await;
            assert_eq!(result.unwrap_err().decision, decision, "{kind:?}");
            assert_eq!((starts.len(), notices.len()), (1, 0), "{kind:?} is not retried");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn attempt_timeout_and_deadline_bound_the_time() {
        let policy = RetryPolicy {
            backoff: Backoff::Fixed(Duration::from_millis(100)),
            max_attempts: 10,
            attempt_timeout: Some(Duration::from_millis(250)),
            deadline: Some(Duration::from_millis(1000)),
        };
        let start = Instant::now();
        let mut calls = 0;
        let result: Result<(), _> = retry(
            &policy,
            |_| {
                calls += 1;
                async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                }
            },
            |_| {},
        )
        .await;
        let gave_up = result.unwrap_err();
        assert!(gave_up.error.message.contains("timed out after 250 ms"), "{gave_up}");
        // 250 + 100 + 250 + 100 + 250 = 950; the next wait would pass 1000.
        assert_eq!((calls, start.elapsed().as_millis()), (3, 950));
        assert_eq!(gave_up.decision, Decision::Fallback);
    }

    #[test]
    fn config_builds_policies_and_rejects_nonsense() {
        let config: RetryConfig = toml::from_str("strategy = \"fixed\"\ndelay_ms = 250\nmax_attempts = 5").unwrap();
        let policy = config.policy().unwrap();
        assert_eq!((policy.backoff, policy.max_attempts), (Backoff::Fixed(Duration::from_millis(250)), 5));
        assert_eq!(RetryConfig::default().policy().unwrap(), RetryPolicy::default());
        let zero: RetryConfig = toml::from_str("max_attempts = 0").unwrap();
        assert!(zero.policy().unwrap_err().contains("max_attempts"));
        assert!(toml::from_str::<RetryConfig>("strategy = \"linear\"").is_err());
    }
}
