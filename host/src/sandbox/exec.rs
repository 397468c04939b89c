//! The `exec` import: runs an allowlisted command with tokio::process, in a
//! working directory inside the plugin's granted read paths, with a cleared
//! environment, a timeout bounded by the call's deadline and capped output.
//! A refused command is never spawned.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::Command as Process;

use super::audit::{AuditEvent, Capability};
use super::bindings::types::{Command, CommandOutput, PluginError};
use super::state::PluginContext;

/// Runs `command` for `plugin`, spending at most `time_left`.
pub async fn run(plugin: &PluginContext, command: Command, time_left: Duration) -> Result<CommandOutput, PluginError> {
    let deny = |detail: String| {
        plugin.audit(&AuditEvent::Denied { plugin: plugin.id(), capability: Capability::Exec, detail: detail.clone() });
        PluginError::Denied(detail)
    };
    plugin.grants.check_command(&command.program, &command.args).map_err(&deny)?;
    let cwd = match &command.cwd {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if plugin.grants.read_root(&dir).is_none() {
                return Err(deny(format!("working directory {} is outside the granted read paths", dir.display())));
            }
            dir
        }
        None => plugin.grants.read_paths.first().cloned().unwrap_or_else(std::env::temp_dir),
    };
    let program = resolve_program(&command.program).ok_or_else(|| {
        PluginError::Fatal(format!("command `{}` is allowlisted but not found on PATH", command.program))
    })?;

    let mut child = Process::new(&program)
        .args(&command.args)
        .current_dir(&cwd)
        .env_clear()
        .envs(passthrough_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| PluginError::Fatal(format!("cannot start `{}`: {e}", command.program)))?;

    let cap = plugin.services.caps.command_output_bytes;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let input = command.stdin;
    let feed = async move {
        // A process that exits without reading its input is not an error.
        let _ = stdin.write_all(&input).await;
        drop(stdin);
    };
    let timeout = command.timeout_ms.map_or(time_left, |ms| Duration::from_millis(ms.into()).min(time_left));

    let work = async {
        let ((), (out, out_cut), (err, err_cut), status) =
            tokio::join!(feed, read_capped(stdout, cap), read_capped(stderr, cap), child.wait());
        (out, err, out_cut || err_cut, status)
    };
    let finished = tokio::time::timeout(timeout, work).await;
    let (exit_code, stdout, stderr, truncated, timed_out) = match finished {
        Ok((out, err, truncated, status)) => {
            let status = status.map_err(|e| PluginError::Fatal(format!("waiting for `{}`: {e}", command.program)))?;
            (status.code(), out, err, truncated, false)
        }
        Err(_) => {
            let _ = child.kill().await;
            (None, Vec::new(), format!("stopped after {} ms", timeout.as_millis()).into_bytes(), false, true)
        }
    };
    plugin.audit(&AuditEvent::CommandRun {
        plugin: plugin.id(),
        program: command.program.clone(),
        args: command.args.clone(),
        exit_code,
    });
    Ok(CommandOutput { exit_code, stdout, stderr, timed_out, truncated })
}

/// Reads everything from `reader`, keeping the first `cap` bytes and draining
/// the rest so the process never blocks on a full pipe.
async fn read_capped(mut reader: impl AsyncRead + Unpin, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut cut = false;
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                cut |= n > room;
            }
        }
    }
    (kept, cut)
}

/// Absolute programs are taken as they are; names are looked up on PATH.
fn resolve_program(program: &str) -> Option<PathBuf> {
    let path = Path::new(program);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_owned());
    }
    if program.contains('/') {
        return None;
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// The only environment a command sees: enough to find programs and speak UTF-8.
fn passthrough_env() -> Vec<(&'static str, String)> {
    let mut env = vec![("LANG", "C.UTF-8".to_owned())];
    for name in ["PATH", "HOME", "TMPDIR"] {
        if let Ok(value) = std::env::var(name) {
            env.push((name, value));
        }
    }
    env
}
