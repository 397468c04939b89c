//! `mock-llm`: runs the fake LLM server on `127.0.0.1` until Ctrl-C, for
//! trying a plugin or a client by hand. Prints the base URL on the first line
//! of standard output, then the base URL for each wire format. The command
//! line is read into [`Args`] first, then validated into [`Settings`].

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use orch_mock_llm::{
    Fault, MockLlm, MockLlmBuilder, MockReply, MockRequest, StopReason, Vendor, echo, pipeline, quirks,
};

const USAGE: &str = "usage: mock-llm [--port N] [--latency-ms N] [--responder echo|pipeline|quirks] [--stop REASON]
                [--fault KIND [--retry-after SECONDS] [--fault-first N | --fault-every N]] [--verbose]

Serves the OpenAI, Anthropic and Gemini wire formats on 127.0.0.1. The `echo`
responder (the default) answers every request with its last user message;
`pipeline` answers orch's default prompts as a cooperative model would (plans,
verdicts, edits in the edit format the implementer's prompt asks for);
`quirks` does the same with the quirks of real replies (think blocks, prose
around, CRLF, fences, trailing spaces). --port 0 (the default) lets the OS
choose the port.

--stop REASON      end every reply this way: end_turn, max_tokens, refusal,
                   content_filter, or other:VALUE (the vendor's own value)
--fault KIND       answer with a fault instead: an HTTP status from 400 to 599
                   (429, 500, 503, 529, ...: the vendor's error body), hang,
                   close or malformed; every request unless limited by
--fault-first N    only the first N requests
--fault-every N    only every Nth request (the Nth, 2Nth, ...)
--retry-after S    a status fault's retry-after, in seconds (e.g. 1 or 0.05);
                   also Gemini's RetryInfo delay on a 429
--verbose          one line per request on standard error";

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schedule {
    /// Every request.
    Always,
    /// The first N requests.
    First(u64),
    /// Every Nth request.
    Every(u64),
}

/// The command line as given, before validation.
#[derive(Debug, Default)]
struct Args {
    port: Option<String>,
    latency_ms: Option<String>,
    responder: Option<String>,
    stop: Option<String>,
    fault: Option<String>,
    retry_after: Option<String>,
    fault_first: Option<String>,
    fault_every: Option<String>,
    verbose: bool,
    help: bool,
}

/// Validated settings.
struct Settings {
    port: u16,
    latency: Duration,
    responder: fn(&MockRequest) -> MockReply,
    stop: Option<StopReason>,
    fault: Option<(Fault, Schedule)>,
    verbose: bool,
}

fn parse_args(mut raw: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(arg) = raw.next() {
        let slot = match arg.as_str() {
            "--verbose" | "-v" => {
                args.verbose = true;
                continue;
            }
            "--help" | "-h" => {
                args.help = true;
                continue;
            }
            "--port" => &mut args.port,
            "--latency-ms" => &mut args.latency_ms,
            "--responder" => &mut args.responder,
            "--stop" => &mut args.stop,
            "--fault" => &mut args.fault,
            "--retry-after" => &mut args.retry_after,
            "--fault-first" => &mut args.fault_first,
            "--fault-every" => &mut args.fault_every,
            other => return Err(format!("unknown argument `{other}`")),
        };
        if slot.is_some() {
            return Err(format!("{arg} is given twice"));
        }
        *slot = Some(raw.next().ok_or_else(|| format!("{arg} needs a value"))?);
    }
    Ok(args)
}

impl Args {
    fn validate(self) -> Result<Settings, String> {
        let number = |name: &str, value: Option<String>| -> Result<Option<u64>, String> {
            value.map(|v| v.parse::<u64>().map_err(|e| format!("{name} `{v}`: {e}"))).transpose()
        };
        let port = match number("--port", self.port)? {
            Some(port) => u16::try_from(port).map_err(|_| format!("--port {port}: not a port"))?,
            None => 0,
        };
        let latency = Duration::from_millis(number("--latency-ms", self.latency_ms)?.unwrap_or(0));
        let responder = match self.responder.as_deref() {
            None | Some("echo") => echo,
            Some("pipeline") => pipeline,
            Some("quirks") => quirks,
            Some(other) => return Err(format!("--responder: `{other}` is not echo, pipeline or quirks")),
        };
        let stop = self.stop.map(|s| s.parse()).transpose().map_err(|e| format!("--stop: {e}"))?;
        let first = number("--fault-first", self.fault_first)?;
        let every = number("--fault-every", self.fault_every)?;
        let Some(fault) = self.fault else {
            if self.retry_after.is_some() || first.is_some() || every.is_some() {
                return Err("--retry-after, --fault-first and --fault-every need --fault".to_owned());
            }
            return Ok(Settings { port, latency, responder, stop, fault: None, verbose: self.verbose });
        };
        let mut fault: Fault = fault.parse().map_err(|e| format!("--fault: {e}"))?;
        if let Some(seconds) = self.retry_after {
            let Fault::Status { retry_after, .. } = &mut fault else {
                return Err("--retry-after needs a status fault (--fault 429, 503, ...)".to_owned());
            };
            if !seconds.parse::<f64>().is_ok_and(|s| s.is_finite() && s >= 0.0) {
                return Err(format!("--retry-after `{seconds}`: not a number of seconds"));
            }
            *retry_after = Some(seconds);
        }
        let schedule = match (first, every) {
            (None, None) => Schedule::Always,
            (Some(n), None) => Schedule::First(n),
            (None, Some(0)) => return Err("--fault-every 0: give 1 or more".to_owned()),
            (None, Some(n)) => Schedule::Every(n),
            (Some(_), Some(_)) => return Err("give --fault-first or --fault-every, not both".to_owned()),
        };
        Ok(Settings { port, latency, responder, stop, fault: Some((fault, schedule)), verbose: self.verbose })
    }
}

/// Adds `fault` on `schedule` to the builder.
fn with_fault(builder: MockLlmBuilder, fault: Fault, schedule: Schedule) -> MockLlmBuilder {
    match schedule {
        Schedule::Always => builder.fault_when(|_| true, fault),
        Schedule::First(n) => builder.faults(std::iter::repeat_n(fault, usize::try_from(n).unwrap_or(usize::MAX))),
        Schedule::Every(n) => {
            let seen = Arc::new(AtomicU64::new(0));
            builder.fault_when(move |_| (seen.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(n), fault)
        }
    }
}

/// The fault and its schedule in words, for standard error.
fn describe(fault: &Fault, schedule: Schedule) -> String {
    let what = match fault {
        Fault::Status { status, retry_after: Some(seconds), .. } => format!("HTTP {status} (retry-after {seconds})"),
        Fault::Status { status, .. } => format!("HTTP {status}"),
        Fault::Hang => "a hang".to_owned(),
        Fault::Close => "a closed connection".to_owned(),
        Fault::Malformed => "a malformed 200".to_owned(),
    };
    match schedule {
        Schedule::Always => format!("{what} for every request"),
        Schedule::First(1) => format!("{what} for the first request"),
        Schedule::First(n) => format!("{what} for the first {n} requests"),
        Schedule::Every(n) => format!("{what} for every request number {n}, {}, ...", 2 * n),
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) if args.help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(args) => args.validate(),
        Err(why) => Err(why),
    };
    let settings = match args {
        Ok(settings) => settings,
        Err(why) => {
            eprintln!("mock-llm: {why}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-llm: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(settings: Settings) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let Settings { port, latency, responder, stop, fault, verbose } = settings;
        let mut builder =
            MockLlm::builder().bind(([127, 0, 0, 1], port).into()).latency(latency).record_requests(false).responder(
                move |request: &MockRequest| {
                    if verbose {
                        let last = request.last_user_message().unwrap_or_default();
                        eprintln!(
                            "{} {} model={} last user message: {last:?}",
                            request.vendor, request.path, request.model
                        );
                    }
                    let reply = responder(request);
                    MockReply { stop: stop.clone().or(reply.stop), ..reply }
                },
            );
        if let Some((fault, schedule)) = fault {
            eprintln!("mock-llm: injecting {}", describe(&fault, schedule));
            builder = with_fault(builder, fault, schedule);
        }
        let mock = builder.start().await?;
        println!("{}", mock.origin());
        for vendor in Vendor::ALL {
            println!("  {vendor:<9} base_url = {}", mock.base_url(vendor));
        }
        println!("  google-genai SDK base_url = {} (api_version v1beta)", mock.origin());
        tokio::signal::ctrl_c().await?;
        eprintln!("mock-llm: stopping after {} requests", mock.calls());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str]) -> Result<Settings, String> {
        parse_args(args.iter().map(|a| a.to_string()))?.validate()
    }

    #[test]
    fn fault_options_become_a_fault_and_a_schedule() {
        assert_eq!(settings(&["--fault", "429"]).unwrap().fault, Some((Fault::status(429), Schedule::Always)));
        let limited = settings(&["--fault", "529", "--retry-after", "0.05", "--fault-first", "2"]).unwrap();
        let overloaded = Fault::Status { status: 529, retry_after: Some("0.05".into()), body: String::new() };
        assert_eq!(limited.fault, Some((overloaded, Schedule::First(2))));
        let every = settings(&["--fault", "close", "--fault-every", "3"]).unwrap();
        assert_eq!(every.fault, Some((Fault::Close, Schedule::Every(3))));
        assert_eq!(settings(&["--stop", "refusal"]).unwrap().stop, Some(StopReason::Refusal));
    }

    #[test]
    fn bad_fault_options_are_refused() {
        for (args, why) in [
            (&["--fault-first", "1"][..], "need --fault"),
            (&["--fault", "hang", "--retry-after", "1"], "needs a status fault"),
            (&["--fault", "429", "--retry-after", "soon"], "not a number of seconds"),
            (&["--fault", "429", "--fault-first", "1", "--fault-every", "2"], "not both"),
            (&["--fault", "429", "--fault-every", "0"], "1 or more"),
            (&["--fault", "200"], "is not a fault"),
            (&["--fault", "429", "--fault", "500"], "given twice"),
            (&["--stop", "length"], "is not a stop reason"),
        ] {
            let error = settings(args).err().unwrap_or_else(|| panic!("{args:?} was accepted"));
            assert!(error.contains(why), "{args:?}: {error}");
        }
    }

    /// The statuses of `n` requests to a mock with `fault` on `schedule`.
    async fn statuses(schedule: Schedule, n: usize) -> Vec<u16> {
        let mock = with_fault(MockLlm::builder(), Fault::status(503), schedule).start().await.unwrap();
        let url = format!("{}/chat/completions", mock.base_url(Vendor::OpenAi));
        let body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for _ in 0..n {
            statuses.push(client.post(&url).json(&body).send().await.unwrap().status().as_u16());
        }
        statuses
    }

    #[tokio::test]
    async fn schedules_pick_the_faulted_requests() {
        assert_eq!(statuses(Schedule::Always, 2).await, [503, 503]);
        assert_eq!(statuses(Schedule::First(2), 4).await, [503, 503, 200, 200]);
        assert_eq!(statuses(Schedule::Every(2), 5).await, [200, 503, 200, 503, 200]);
    }
}
