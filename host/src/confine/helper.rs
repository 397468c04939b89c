//! `orch __sandbox-exec`: the helper that confines itself and then becomes
//! the command. It runs before orch starts any thread, reads its [`Policy`]
//! from [`POLICY_VAR`], and in this order: joins the call's cgroup, asks to
//! be killed with orch, drops every capability (and the root user's power to
//! regain them), sets `no_new_privs`, applies Landlock, applies seccomp, and
//! `execve`s the program with the policy's environment only. Anything that
//! cannot be enforced in full is a refusal: exit code [`REFUSED`] and one
//! line on standard error starting with [`REFUSAL_PREFIX`].

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
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(|e| format!("cannot ask to die with orch: {e}"))?;
    drop_capabilities()?;
    rustix::thread::set_no_new_privs(true).map_err(|e| format!("cannot set no_new_privs: {e}"))?;
    landlock(&policy)?;
    seccomp::apply()?;
    let error = Command::new(&policy.program).args(&policy.args).env_clear().envs(policy.env).exec();
    Err(format!("cannot run {}: {error}", policy.program.display()))
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
    if privileged {
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
