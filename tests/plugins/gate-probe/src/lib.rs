//! A gate plugin that does what the task's goal says inside the workspace it
//! is asked to judge, for the sandbox tests: `read FILE`, `write FILE`,
//! `exec [cwd=DIR] PROGRAM ARGS…`, `sh SCRIPT` (`sh -c SCRIPT` in the
//! workspace). The check's summary reports what happened (for `sh`: the
//! exit code, standard output and standard error); it passes when the
//! action worked.

use orch_sdk::gate::{CheckRequest, CheckResult, Gate};
use orch_sdk::{Capabilities, Plugin, PluginError, exec};

#[derive(Default)]
struct GateProbe;

impl Plugin for GateProbe {
    const NAME: &'static str = "gate-probe";
    const DESCRIPTION: &'static str = "Test gate that reads, writes and runs commands in its workspace";

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().command("cat", &["*"])
    }
}

impl Gate for GateProbe {
    fn check(&self, request: CheckRequest) -> Result<CheckResult, PluginError> {
        let goal = request.task.goal;
        let (action, arg) = goal.split_once(' ').unwrap_or((goal.as_str(), ""));
        let path = format!("{}/{arg}", request.workspace);
        let (passed, summary) = match action {
            "read" => match std::fs::read_to_string(&path) {
                Ok(text) => (true, format!("read: {}", text.trim())),
                Err(e) => (false, format!("read failed: {e}")),
            },
            "write" => match std::fs::write(&path, "planted") {
                Ok(()) => (true, "wrote".to_owned()),
                Err(e) => (false, format!("write failed: {e}")),
            },
            "exec" => {
                let (cwd, rest) = match arg.strip_prefix("cwd=") {
                    Some(rest) => rest.split_once(' ').map_or((rest, ""), |(d, r)| (d, r)),
                    None => (request.workspace.as_str(), arg),
                };
                let mut words = rest.split_whitespace();
                let program = words.next().unwrap_or_default();
                let output = exec::Command::new(program).args(words).cwd(cwd).run()?;
                let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                (output.exit_code == Some(0), format!("exit {:?}: {stdout}", output.exit_code))
            }
            "sh" => {
                let output = exec::Command::new("sh").args(["-c", arg]).cwd(&request.workspace).run()?;
                let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
                (output.exit_code == Some(0), format!("exit {:?}: {stdout} | {stderr}", output.exit_code))
            }
            other => return Err(PluginError::InvalidInput(format!("unknown action `{other}`"))),
        };
        Ok(CheckResult { passed, summary, findings: Vec::new() })
    }
}

orch_sdk::register!(gate: GateProbe);
