//! A pids cgroup per command: the helper moves itself into it before it
//! `execve`s the command, so every process the command forks stays in it —
//! `setsid` or double forks included — its count is bounded (a fork bomb
//! stops at [`MAX_PIDS`]), and when the call ends every process in it is
//! killed and the cgroup removed. cgroup v1's `pids` hierarchy and cgroup v2
//! (at its root) are used when writable; otherwise there is none, and a call
//! can only stop its command's process group.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::process::{Pid, Signal, kill_process};

/// Most processes (threads included) one command's tree may have at once.
pub const MAX_PIDS: u32 = 256;

/// Calls made by this process, to name their cgroups apart.
static CALLS: AtomicU64 = AtomicU64::new(0);

/// One call's cgroup, killed and removed when dropped.
#[derive(Debug)]
pub struct CallGroup {
    path: PathBuf,
}

/// The directory new per-call cgroups are made in, with the pids controller on.
fn parent() -> Option<PathBuf> {
    let v1 = Path::new("/sys/fs/cgroup/pids");
    if v1.join("cgroup.procs").exists() {
        return Some(v1.join("orch"));
    }
    let v2 = Path::new("/sys/fs/cgroup");
    let controllers = std::fs::read_to_string(v2.join("cgroup.controllers")).ok()?;
    controllers.split_whitespace().any(|c| c == "pids").then(|| v2.to_owned())
}

impl CallGroup {
    /// A new cgroup for one call, or `None` where none can be made.
    pub fn create() -> Option<Self> {
        let parent = parent()?;
        if parent.ends_with("orch") {
            std::fs::create_dir_all(&parent).ok()?;
        } else {
            // cgroup v2: the controller must be on for the root's children.
            std::fs::write(parent.join("cgroup.subtree_control"), "+pids").ok()?;
        }
        let name = format!("orch-{}-{}", std::process::id(), CALLS.fetch_add(1, Ordering::Relaxed));
        let path = parent.join(name);
        std::fs::create_dir(&path).ok()?;
        let group = Self { path };
        std::fs::write(group.path.join("pids.max"), MAX_PIDS.to_string()).ok()?;
        Some(group)
    }

    /// Its directory (the helper writes its pid to `cgroup.procs` there).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The processes in it now.
    pub fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.path.join("cgroup.procs"))
            .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Kills every process in it, again and again while any is left (a
    /// process may fork while the others are being killed; the pids limit
    /// bounds how long that goes on).
    pub fn kill_all(&self) {
        for _ in 0..100 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids.into_iter().filter_map(Pid::from_raw) {
                let _ = kill_process(pid, Signal::KILL);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

impl Drop for CallGroup {
    fn drop(&mut self) {
        self.kill_all();
        // A killed process leaves the cgroup once it is reaped; try for a moment.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.path).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        tracing::warn!("cannot remove the command cgroup {}", self.path.display());
    }
}
