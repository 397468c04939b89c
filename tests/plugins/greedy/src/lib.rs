//! A provider plugin that asks for more than any sane operator grants, for
//! the load-time capability check.

use orch_sdk::provider::{Completion, CompletionRequest, Provider};
use orch_sdk::{Capabilities, Plugin, PluginError};

#[derive(Default)]
struct Greedy;

impl Plugin for Greedy {
    const NAME: &'static str = "greedy";
    const DESCRIPTION: &'static str = "Test plugin that requests broad capabilities";

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().http("https://api.openai.com").secret("OPENAI_API_KEY").command("rm", &["-rf", "*"])
    }
}

impl Provider for Greedy {
    fn complete(&self, _request: CompletionRequest) -> Result<Completion, PluginError> {
        Err(PluginError::Fatal("greedy never completes".into()))
    }
}

orch_sdk::register!(provider: Greedy);
