//! `mock-llm`: runs the fake LLM server on `127.0.0.1` until Ctrl-C, for
//! trying a plugin or a client by hand. Prints the base URL on the first line
//! of standard output, then the base URL for each wire format.

use std::process::ExitCode;
use std::time::Duration;

use orch_mock_llm::{MockLlm, MockReply, MockRequest, Vendor, echo, pipeline};

const USAGE: &str = "usage: mock-llm [--port N] [--latency-ms N] [--responder echo|pipeline] [--verbose]

Serves the OpenAI, Anthropic and Gemini wire formats on 127.0.0.1. The `echo`
responder (the default) answers every request with its last user message;
`pipeline` answers orch's default prompts as a cooperative model would (plans,
verdicts, diffs). --port 0 (the default) lets the OS choose the port.
--verbose prints one line per request on standard error.";

/// Command-line settings.
struct Args {
    port: u16,
    latency: Duration,
    responder: fn(&MockRequest) -> MockReply,
    verbose: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args { port: 0, latency: Duration::ZERO, responder: echo, verbose: false };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => parsed.port = value("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--latency-ms" => {
                let ms: u64 = value("--latency-ms")?.parse().map_err(|e| format!("--latency-ms: {e}"))?;
                parsed.latency = Duration::from_millis(ms);
            }
            "--responder" => {
                parsed.responder = match value("--responder")?.as_str() {
                    "echo" => echo,
                    "pipeline" => pipeline,
                    other => return Err(format!("--responder: `{other}` is not echo or pipeline")),
                }
            }
            "--verbose" | "-v" => parsed.verbose = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) if why.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("mock-llm: {why}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-llm: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let (verbose, responder) = (args.verbose, args.responder);
        let mock = MockLlm::builder()
            .bind(([127, 0, 0, 1], args.port).into())
            .latency(args.latency)
            .record_requests(false)
            .responder(move |request: &MockRequest| {
                if verbose {
                    let last = request.last_user_message().unwrap_or_default();
                    eprintln!(
                        "{} {} model={} last user message: {last:?}",
                        request.vendor, request.path, request.model
                    );
                }
                responder(request)
            })
            .start()
            .await?;
        println!("{}", mock.origin());
        for vendor in Vendor::ALL {
            println!("  {vendor:<9} base_url = {}", mock.base_url(vendor));
        }
        tokio::signal::ctrl_c().await?;
        eprintln!("mock-llm: stopping after {} requests", mock.calls());
        Ok(())
    })
}
