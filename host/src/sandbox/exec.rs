//! The `exec` import: runs an allowlisted command with tokio::process, in a
//! working directory inside the plugin's granted read paths, with a cleared
//! environment, a timeout bounded by the call's deadline and capped output.
//! The command is confined by the kernel ([`crate::confine`]) unless the
//! operator turned that off; it runs in its own process group and, where one
//! can be made, its own cgroup, killed as a whole when the call ends, times
//! out or is abandoned. A refused command is never spawned. The worktree's
//! `.git` pointer is checked after every command and put back if changed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::Command as Process;

use super::audit::{AuditEvent, Capability};
use super::bindings::types::{Command, CommandOutput, PluginError};
use super::grants::within;
use super::state::PluginContext;
use crate::confine::{self, CallBox, Confinement};

/// How long output readers may keep draining after the process has exited.
const READER_GRACE: Duration = Duration::from_secs(1);

/// Runs `command` for `plugin`, spending at most `time_left`. The working
/// directory must lie in a granted read path or in the call's `workspace`
/// (the default when there is one).
pub async fn run(
    plugin: &PluginContext,
    workspace: Option<&Path>,
    command: Command,
    time_left: Duration,
) -> Result<CommandOutput, PluginError> {
    let deny = |detail: String| plugin.deny(Capability::Exec, detail);
    let grant = plugin.grants.check_command(&command.program, &command.args, workspace).map_err(&deny)?;
    if !command.stdin.is_empty() && !grant.stdin {
        return Err(deny(format!("`{}` may not be given input: its grant does not say stdin = true", command.program)));
    }
    let stdin = if grant.stdin { Stdio::piped() } else { Stdio::null() };
    let cwd = match &command.cwd {
        Some(dir) => {
            // Resolved before it is checked: a link on the way (a committed
            // `dirlink -> ../../..`) must not lead out.
            let outside = |dir: &str| {
                deny(format!("working directory {dir} is outside the granted read paths and the task's workspace"))
            };
            let resolved = std::fs::canonicalize(dir).map_err(|_| outside(dir))?;
            let resolved_within = |root: &Path| std::fs::canonicalize(root).is_ok_and(|root| within(&resolved, &root));
            let in_workspace = workspace.is_some_and(resolved_within);
            if !in_workspace && !plugin.grants.read_paths.iter().any(|root| resolved_within(root)) {
                return Err(outside(dir));
            }
            resolved
        }
        None => workspace
            .map(Path::to_owned)
            .or_else(|| plugin.grants.read_paths.first().cloned())
            .unwrap_or_else(std::env::temp_dir),
    };
    let program = resolve_program(&command.program).ok_or_else(|| {
        PluginError::Fatal(format!("command `{}` is allowlisted but not found on PATH", command.program))
    })?;

    let git_pointer = workspace.and_then(|w| crate::regular_file::read(&w.join(".git"), GIT_POINTER_BYTES).ok());
    let (mut process, call_box) = match &plugin.services.confinement {
        Confinement::Enforce { helper, cgroups } => {
            let call_box =
                CallBox::new(*cgroups).map_err(|e| PluginError::Fatal(format!("cannot prepare the sandbox: {e}")))?;
            let mut read: Vec<PathBuf> = grant.read.iter().chain(&plugin.grants.read_paths).cloned().collect();
            read.push(cwd.clone());
            // The repository's git directory: commands may read it (objects, refs), never write it.
            read.extend(workspace.and_then(crate::workspace::common_git_dir));
            let write = workspace.map(Path::to_owned).into_iter().collect();
            (call_box.command(helper, program, command.args.clone(), read, write), Some(call_box))
        }
        Confinement::Off => {
            plugin.audit(&AuditEvent::Unconfined { plugin: plugin.id(), program: command.program.clone() });
            let mut process = Process::new(&program);
            process.args(&command.args).env_clear().envs(passthrough_env());
            (process, None)
        }
    };
    // A supervising helper (no cgroup) is stopped with SIGTERM, so that it
    // can kill its command's whole tree first.
    let supervised = call_box.as_ref().is_some_and(|b| !b.contains_the_tree());
    let mut child = process
        .current_dir(&cwd)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(!supervised)
        .spawn()
        .map_err(|e| PluginError::Fatal(format!("cannot start `{}`: {e}", command.program)))?;
    let group = ProcessGroup { leader: child.id().and_then(|id| Pid::from_raw(i32::try_from(id).ok()?)), supervised };

    let cap = plugin.services.caps.command_output_bytes;
    let input = command.stdin;
    let feed = child.stdin.take().map(|mut stdin| {
        tokio::spawn(async move {
            // A process that exits without reading its input is not an error.
            let _ = stdin.write_all(&input).await;
        })
    });
    // Readers run on their own so that what a stopped process printed
    // before its timeout is still returned.
    let stdout = tokio::spawn(read_capped(child.stdout.take().expect("stdout is piped"), cap));
    let stderr = tokio::spawn(read_capped(child.stderr.take().expect("stderr is piped"), cap));
    let timeout = command.timeout_ms.map_or(time_left, |ms| Duration::from_millis(ms.into()).min(time_left));

    let (exit_code, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => {
            let status = status.map_err(|e| PluginError::Fatal(format!("waiting for `{}`: {e}", command.program)))?;
            (status.code(), false)
        }
        Err(_) => {
            group.kill();
            if tokio::time::timeout(SUPERVISOR_GRACE, child.wait()).await.is_err() {
                group.kill_all();
                let _ = child.wait().await;
            }
            (None, true)
        }
    };
    if let Some(feed) = feed {
        feed.abort();
    }
    if let Some(call_box) = call_box {
        // Whatever the command left running (`setsid` included) ends with the call.
        let _ = tokio::task::spawn_blocking(move || call_box.release()).await;
    }
    let (stdout, out_cut) = collect(stdout).await;
    let (mut stderr, err_cut) = collect(stderr).await;
    if timed_out {
        stderr.extend_from_slice(format!("\n[orch: stopped after {} ms]", timeout.as_millis()).as_bytes());
    }
    if let Some(workspace) = workspace {
        keep_git_pointer(workspace, git_pointer.as_deref())?;
    }
    if exit_code == Some(confine::REFUSED)
        && let Some(refusal) = String::from_utf8_lossy(&stderr).trim().strip_prefix(confine::REFUSAL_PREFIX)
    {
        return Err(PluginError::Fatal(format!("`{}` was not run: {refusal}", command.program)));
    }
    plugin.audit(&AuditEvent::CommandRun {
        plugin: plugin.id(),
        program: command.program.clone(),
        args: command.args.clone(),
        exit_code,
    });
    Ok(CommandOutput { exit_code, stdout, stderr, timed_out, truncated: out_cut || err_cut })
}

/// More than a `.git` pointer file (`gitdir: PATH`) ever holds.
const GIT_POINTER_BYTES: u64 = 64 * 1024;

/// Puts the worktree's `.git` pointer back if a command changed it (it would
/// lead orch's own git elsewhere), and says so.
fn keep_git_pointer(workspace: &Path, before: Option<&[u8]>) -> Result<(), PluginError> {
    let Some(before) = before else { return Ok(()) };
    let pointer = workspace.join(".git");
    if std::fs::symlink_metadata(&pointer).is_ok_and(|m| m.is_file())
        && crate::regular_file::read(&pointer, GIT_POINTER_BYTES).ok().as_deref() == Some(before)
    {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(&pointer).or_else(|_| std::fs::remove_file(&pointer));
    std::fs::write(&pointer, before)
        .map_err(|e| PluginError::Fatal(format!("cannot restore the worktree's .git: {e}")))?;
    Err(PluginError::Fatal("the command changed the worktree's .git pointer; it was put back".into()))
}

/// How long a supervising helper has to kill its command's tree and exit.
const SUPERVISOR_GRACE: Duration = Duration::from_secs(5);

/// A command's process group, killed with everything in it when dropped, so
/// neither a timeout nor an abandoned call leaves its children running. A
/// supervising helper at its head is asked (SIGTERM) to kill its command's
/// whole tree instead.
struct ProcessGroup {
    leader: Option<Pid>,
    supervised: bool,
}

impl ProcessGroup {
    fn kill(&self) {
        match self.leader {
            Some(pid) if self.supervised => {
                let _ = kill_process(pid, Signal::TERM);
            }
            _ => self.kill_all(),
        }
    }

    fn kill_all(&self) {
        if let Some(pid) = self.leader {
            // The group may already be gone; there is nothing left to stop then.
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The output a reader task gathered. A pipe kept open by a grandchild of a
/// stopped process does not hold the call: after a grace period the reader
/// is abandoned with what it has.
async fn collect(reader: tokio::task::JoinHandle<(Vec<u8>, bool)>) -> (Vec<u8>, bool) {
    let abort = reader.abort_handle();
    match tokio::time::timeout(READER_GRACE, reader).await {
        Ok(Ok(output)) => output,
        Ok(Err(_)) | Err(_) => {
            abort.abort();
            (Vec::new(), true)
        }
    }
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
