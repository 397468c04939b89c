//! `orch __sandbox-exec`: the helper that confines itself and then becomes
//! the command. It runs before orch starts any thread, reads its [`Policy`]
//! from [`POLICY_VAR`], and in this order: joins the call's cgroup, asks to
//! be killed with orch, drops every capability (and the root user's power to
//! regain them), sets `no_new_privs`, applies Landlock, applies seccomp, and
//! `execve`s the program with the policy's environment only. Anything that
//! cannot be enforced in full is a refusal: exit code [`REFUSED`] and one
//! line on standard error starting with [`REFUSAL_PREFIX`].
//!
//! Without a cgroup, the helper supervises instead ([`supervise`]): it
//! becomes a child subreaper, starts itself again for the confined command
//! (whose Landlock domain then cannot signal it), and when the command ends
//! or orch stops the call with SIGTERM (or dies), kills every descendant
//! left, `setsid` ones included, before it exits with the command's status.

use std::os::unix::process::CommandExt as _;
use std::process::Command;

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    Scope, path_beneath_rules,
};
use rustix::process::Signal;
use rustix::thread::{CapabilitiesSecureBits, CapabilitySet, CapabilitySets};

use super::{POLICY_VAR, Policy, REFUSAL_PREFIX, REFUSED, seccomp};

/// The Landlock ABI whose features are all required: file access rights,
/// TCP bind and connect, and the abstract-socket and signal scopes.
const LANDLOCK_ABI: ABI = ABI::V6;

/// Runs the helper; returns only to exit with the code of a refusal.
pub fn main() -> std::process::ExitCode {
    let error = match confine_and_exec() {
        Ok(never) => match never {},
        Err(error) => error,
    };
    eprintln!("{REFUSAL_PREFIX}{error}");
    std::process::ExitCode::from(REFUSED as u8)
}

enum Never {}

fn confine_and_exec() -> Result<Never, String> {
    let text = std::env::var(POLICY_VAR).map_err(|_| format!("no {POLICY_VAR}: run by orch only"))?;
    let policy: Policy = serde_json::from_str(&text).map_err(|e| format!("bad policy: {e}"))?;
    if let Some(cgroup) = &policy.cgroup {
        std::fs::write(cgroup.join("cgroup.procs"), std::process::id().to_string())
            .map_err(|e| format!("cannot join the call's cgroup {}: {e}", cgroup.display()))?;
    }
    let supervisor = policy.cgroup.is_none() && !policy.supervised;
    // A supervisor hears orch's death as a stop, so it still cleans up.
    let death = if supervisor { Signal::TERM } else { Signal::KILL };
    rustix::process::set_parent_process_death_signal(Some(death))
        .map_err(|e| format!("cannot ask to die with orch: {e}"))?;
    drop_capabilities()?;
    rustix::thread::set_no_new_privs(true).map_err(|e| format!("cannot set no_new_privs: {e}"))?;
    if supervisor {
        return supervise(policy);
    }
    landlock(&policy)?;
    seccomp::apply()?;
    let error = Command::new(&policy.program).args(&policy.args).env_clear().envs(policy.env).exec();
    Err(format!("cannot run {}: {error}", policy.program.display()))
}

/// Runs the confined command as a child (this helper again, with
/// `supervised` set) and, as its subreaper, kills whatever the command left
/// running once it exits or the call is stopped (SIGTERM); exits with the
/// command's code, or 128 + the signal that ended it.
fn supervise(mut policy: Policy) -> Result<Never, String> {
    use std::os::unix::process::ExitStatusExt as _;

    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| format!("cannot become the command's subreaper: {e}"))?;
    policy.supervised = true;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot supervise: {e}"))?;
    let status = runtime.block_on(async {
        let mut stop = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
        let mut child = tokio::process::Command::new("/proc/self/exe")
            .arg(super::HELPER_ARG)
            .env_clear()
            .env(POLICY_VAR, serde_json::to_string(&policy).expect("policies serialise"))
            .spawn()
            .map_err(|e| format!("cannot start the confined command: {e}"))?;
        tokio::select! {
            status = child.wait() => status.map(Some).map_err(|e| format!("waiting for the command: {e}")),
            _ = stop.recv() => Ok(None),
        }
    });
    kill_descendants();
    let code = match status? {
        Some(status) => status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        None => 128 + Signal::TERM.as_raw(),
    };
    std::process::exit(code)
}

/// Kills every descendant of this subreaper: its children are killed, theirs
/// are then reparented to it, and so on until none is left (bounded rounds).
fn kill_descendants() {
    let me = rustix::process::getpid();
    for _ in 0..10_000 {
        while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
        let children = children_of(me.as_raw_nonzero().get());
        if children.is_empty() {
            return;
        }
        for pid in children.into_iter().filter_map(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The live processes whose parent is `parent`, from `/proc`.
fn children_of(parent: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid …`: the name may hold spaces and parentheses.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            let Some((_, rest)) = stat.rsplit_once(')') else { return false };
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            state != Some("Z") && fields.next().and_then(|p| p.parse().ok()) == Some(parent)
        })
        .collect()
}

/// Drops every capability: the secure bits that keep root from regaining
/// them at `execve` (where permitted), the bounding set, and the effective,
/// permitted, inheritable and ambient sets.
fn drop_capabilities() -> Result<(), String> {
    let root_cannot_regain = CapabilitiesSecureBits::NO_ROOT
        | CapabilitiesSecureBits::NO_ROOT_LOCKED
        | CapabilitiesSecureBits::NO_SETUID_FIXUP
        | CapabilitiesSecureBits::NO_SETUID_FIXUP_LOCKED;
    let privileged = rustix::process::getuid().is_root() || rustix::process::geteuid().is_root();
    let already = rustix::thread::capabilities_secure_bits().is_ok_and(|bits| bits.contains(root_cannot_regain));
    if privileged && !already {
        rustix::thread::set_capabilities_secure_bits(root_cannot_regain)
            .map_err(|e| format!("cannot stop root from regaining capabilities: {e}"))?;
    }
    for capability in CapabilitySet::all().iter() {
        // Unknown to this kernel, or no CAP_SETPCAP (then there is nothing to drop).
        let _ = rustix::thread::remove_capability_from_bounding_set(capability);
    }
    let none = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    rustix::thread::set_capabilities(None, none).map_err(|e| format!("cannot drop capabilities: {e}"))?;
    let _ = rustix::thread::clear_ambient_capability_set();
    let left = rustix::thread::capabilities(None).map_err(|e| format!("cannot read capabilities: {e}"))?;
    if !left.effective.is_empty() || !left.permitted.is_empty() {
        return Err("capabilities are left after dropping them".into());
    }
    Ok(())
}

/// Applies the policy's Landlock rules, every feature of [`LANDLOCK_ABI`]
/// required: what this kernel cannot enforce is named in the refusal.
fn landlock(policy: &Policy) -> Result<(), String> {
    let missing = |what: &str, e: &dyn std::fmt::Display| {
        format!(
            "Landlock {what} cannot be enforced by this kernel ({e}); commands need Landlock ABI {} \
             (Linux 6.12 or later); to run them unconfined, set [sandbox] os = \"off\" in orch.toml",
            LANDLOCK_ABI as i32
        )
    };
    let existing = |paths: &[std::path::PathBuf]| -> Vec<std::path::PathBuf> {
        paths.iter().filter(|p| p.exists()).cloned().collect()
    };
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))
        .map_err(|e| missing("file access control", &e))?
        .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
        .map_err(|e| missing("network control", &e))?
        .scope(Scope::AbstractUnixSocket | Scope::Signal)
        .map_err(|e| missing("scoping", &e))?
        .create()
        .map_err(|e| missing("rulesets", &e))?
        .add_rules(path_beneath_rules(existing(&policy.read), AccessFs::from_read(LANDLOCK_ABI)))
        .map_err(|e| format!("cannot allow reading: {e}"))?
        .add_rules(path_beneath_rules(existing(&policy.write), AccessFs::from_all(LANDLOCK_ABI)))
        .map_err(|e| format!("cannot allow writing: {e}"))?
        .restrict_self()
        .map_err(|e| missing("restriction", &e))?;
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(missing("in full", &format!("{:?}", status.ruleset)));
    }
    Ok(())
}
