//! OS-level confinement of every command orch runs for a plugin. WebAssembly
//! confines the plugins; the kernel confines the processes they start. A
//! command is not spawned directly: orch starts itself as a small helper
//! (`orch __sandbox-exec`, [`helper`]) that, being single-threaded and fresh,
//! can restrict itself — drops every capability, sets `no_new_privs`, applies
//! Landlock (reads from a system allowlist, the command's toolchain and the
//! grant's paths; writes only to the worktree, a private scratch directory
//! and `/dev/null`; no TCP; no signals or abstract sockets outside its
//! domain) and a seccomp filter ([`seccomp`]) — and then `execve`s the
//! command. The whole process tree of a call lives in a pids cgroup of its
//! own ([`cgroup`]) where one is writable, so nothing it forks (`setsid`
//! included) outlives the call or grows past a bound.
//!
//! Fail closed: when the kernel cannot enforce all of it, the command is
//! refused with a message naming what is missing and the opt-out,
//! `[sandbox] os = "off"`, under which commands run as plain host processes
//! and the run log says so on every call.

pub mod cgroup;
pub mod helper;
pub mod seccomp;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The argument that makes `orch` run as the helper.
pub const HELPER_ARG: &str = "__sandbox-exec";

/// The variable that carries the [`Policy`] to the helper.
pub const POLICY_VAR: &str = "ORCH_SANDBOX_POLICY";

/// The helper's exit code when it refused to run the command (what it
/// printed, after [`REFUSAL_PREFIX`], says why).
pub const REFUSED: i32 = 126;

/// How the helper's refusal starts on its standard error.
pub const REFUSAL_PREFIX: &str = "orch-sandbox: ";

/// `[sandbox] os` in `orch.toml`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OsSandbox {
    /// Confine every command; refuse one the kernel cannot confine.
    #[default]
    Enforce,
    /// Run commands as plain host processes (said in the run log on every call).
    Off,
}

/// How the plugin runtime starts commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confinement {
    /// Through `helper` (an executable that runs [`helper::main`] when its
    /// first argument is [`HELPER_ARG`]: normally orch itself), containing
    /// each call's process tree in a cgroup where `cgroups` is true and one
    /// is writable, else with the helper as the tree's subreaper.
    Enforce { helper: PathBuf, cgroups: bool },
    /// Unconfined.
    Off,
}

impl Confinement {
    /// Confinement through this very executable.
    pub fn this_executable() -> Self {
        match std::env::current_exe() {
            Ok(helper) => Self::Enforce { helper, cgroups: true },
            // Without a path to re-run, nothing can be confined: refuse later, loudly.
            Err(_) => Self::Enforce { helper: PathBuf::from("/nonexistent/orch"), cgroups: true },
        }
    }
}

/// What the helper applies before it runs the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The program, resolved.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Directories and files it may read (and execute).
    pub read: Vec<PathBuf>,
    /// Directories and files it may read and write.
    pub write: Vec<PathBuf>,
    /// Its whole environment.
    pub env: Vec<(String, String)>,
    /// The pids cgroup the helper moves into before anything else; without
    /// one, the helper stays as the command's parent and subreaper, and
    /// kills every descendant when the command ends or orch stops the call
    /// (SIGTERM).
    pub cgroup: Option<PathBuf>,
    /// Set by the supervising helper for the helper it starts, which
    /// confines itself and becomes the command.
    #[serde(default)]
    pub supervised: bool,
}

/// Directories every command may read: the system's programs, libraries and
/// configuration, and the pseudo-files programs expect.
const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/proc",
    "/sys/devices/system/cpu",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
    "/dev/full",
];

/// What every command may write besides its worktree and scratch directory.
const SYSTEM_WRITE: &[&str] = &["/dev/null"];

/// Where a program lives: the directory above its `bin/` (a toolchain or
/// virtualenv prefix), for the program as found on PATH and as its real
/// file (a shim or a link may lead elsewhere). `/usr/bin/x` gives `/usr`.
pub fn toolchain_of(program: &Path) -> Vec<PathBuf> {
    let mut prefixes = Vec::new();
    for path in [Some(program.to_owned()), std::fs::canonicalize(program).ok()].into_iter().flatten() {
        let prefix = path.parent().and_then(Path::parent).filter(|p| p.parent().is_some());
        if let Some(prefix) = prefix
            && !prefixes.iter().any(|p: &PathBuf| prefix.starts_with(p))
        {
            prefixes.push(prefix.to_owned());
        }
    }
    prefixes
}

impl Policy {
    /// The policy for `program` with `args`, reading `read` on top of the
    /// system's and the toolchain's directories, writing `write` (the
    /// worktree) and `scratch` (its home and temporary directory).
    pub fn new(program: PathBuf, args: Vec<String>, read: Vec<PathBuf>, write: Vec<PathBuf>, scratch: &Path) -> Self {
        let mut readable: Vec<PathBuf> = SYSTEM_READ.iter().map(PathBuf::from).collect();
        readable.extend(toolchain_of(&program));
        readable.extend(read);
        let mut writable: Vec<PathBuf> = SYSTEM_WRITE.iter().map(PathBuf::from).collect();
        writable.extend(write);
        writable.push(scratch.to_owned());
        let home = scratch.join("home");
        let tmp = scratch.join("tmp");
        let mut env = vec![("LANG".to_owned(), "C.UTF-8".to_owned())];
        if let Ok(path) = std::env::var("PATH") {
            env.push(("PATH".to_owned(), path));
        }
        env.push(("HOME".to_owned(), home.display().to_string()));
        env.push(("TMPDIR".to_owned(), tmp.display().to_string()));
        Self { program, args, read: readable, write: writable, env, cgroup: None, supervised: false }
    }
}

/// One confined call's own resources — a scratch directory (its `HOME` and
/// `TMPDIR`) and its cgroup — released (every process in the cgroup killed,
/// the directory removed) by [`release`](Self::release).
#[derive(Debug)]
pub struct CallBox {
    scratch: PathBuf,
    group: Option<cgroup::CallGroup>,
}

impl CallBox {
    /// A fresh scratch directory and, if `cgroups` and one can be made, a cgroup.
    pub fn new(cgroups: bool) -> std::io::Result<Self> {
        let name: String = std::iter::repeat_with(fastrand::alphanumeric).take(12).collect();
        let scratch = std::env::temp_dir().join(format!("orch-cmd-{name}"));
        std::fs::create_dir(&scratch)?;
        std::fs::create_dir(scratch.join("home"))?;
        std::fs::create_dir(scratch.join("tmp"))?;
        let group = if cgroups { cgroup::CallGroup::create() } else { None };
        Ok(Self { scratch, group })
    }

    /// Whether the call's whole process tree is contained (a cgroup), not
    /// only its process group.
    pub fn contains_the_tree(&self) -> bool {
        self.group.is_some()
    }

    /// The helper `helper` set to confine `program` with `args`, reading
    /// `read` and writing `write` besides what every command may.
    pub fn command(
        &self,
        helper: &Path,
        program: PathBuf,
        args: Vec<String>,
        read: Vec<PathBuf>,
        write: Vec<PathBuf>,
    ) -> tokio::process::Command {
        let mut policy = Policy::new(program, args, read, write, &self.scratch);
        policy.cgroup = self.group.as_ref().map(|g| g.path().to_owned());
        let mut command = tokio::process::Command::new(helper);
        command
            .arg(HELPER_ARG)
            .env_clear()
            .env(POLICY_VAR, serde_json::to_string(&policy).expect("policies serialise"));
        command
    }

    /// Kills what is left of the call's process tree and removes its scratch
    /// directory (blocking, briefly).
    pub fn release(self) {
        drop(self.group);
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_programs_toolchain_is_the_prefix_above_its_bin() {
        assert_eq!(toolchain_of(Path::new("/nonexistent/venv/bin/python")), [PathBuf::from("/nonexistent/venv")]);
        assert!(toolchain_of(Path::new("/x")).is_empty(), "never the root");
        let policy = Policy::new("/usr/bin/true".into(), vec![], vec![], vec!["/w".into()], Path::new("/s"));
        assert!(policy.read.contains(&PathBuf::from("/usr")) && policy.write.contains(&PathBuf::from("/w")));
        assert!(policy.env.contains(&("HOME".to_owned(), "/s/home".to_owned())));
        assert!(!policy.env.iter().any(|(k, _)| k == POLICY_VAR), "nothing of orch's own leaks");
    }
}
