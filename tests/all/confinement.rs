//! Commands a plugin runs are confined by the kernel: what a hostile command
//! (a test suite a model wrote, say) tries, through the gate probe's `sh
//! SCRIPT` in a real git worktree. Every attempt below is made for real and
//! must be stopped by Landlock, seccomp or the call's cgroup; nothing here is
//! skipped when the kernel lacks a feature — the command is then refused, and
//! these tests fail.

use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use orch_host::confine::Confinement;
use orch_host::sandbox::{
    AuditEvent, CheckRequest, CommandGrant, Grants, LoadedPlugin, PluginSource, PluginSpec, Runtime,
};
use orch_tests::plugins::ORCH_TEST_GATE_PROBE;

/// A repository with a worktree the gate judges, a sibling directory, a fake
/// home with an SSH key, and the scripts the gate may run.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        let git = |cwd: &Path, args: &[&str]| {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(cwd)
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .output()
                .unwrap();
            assert!(ok.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&ok.stderr));
        };
        std::fs::write(repo.join("app.py"), "x = 1\n").unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "initial"]);
        git(&repo, &["worktree", "add", "-q", "-b", "orch/t", dir.path().join("worktree").to_str().unwrap()]);
        std::fs::create_dir_all(dir.path().join("sibling")).unwrap();
        std::fs::create_dir_all(dir.path().join("home/.ssh")).unwrap();
        std::fs::write(dir.path().join("home/.ssh/id_ed25519"), "CANARY-KEY").unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The gate probe, allowed to run each of `scripts` with `sh -c`, under `confinement`.
    async fn gate(
        &self,
        scripts: &[&str],
        confinement: Confinement,
    ) -> (LoadedPlugin, std::sync::Arc<orch_host::sandbox::RecordingAudit>) {
        let audit = std::sync::Arc::new(orch_host::sandbox::RecordingAudit::default());
        let runtime = Runtime::builder()
            .cache_dir(super::cache_dir())
            .audit(std::sync::Arc::clone(&audit) as std::sync::Arc<dyn orch_host::sandbox::AuditSink>)
            .confinement(confinement)
            .build()
            .unwrap();
        let mut commands: Vec<CommandGrant> =
            scripts.iter().map(|s| CommandGrant::new("sh", vec!["-c".into(), (*s).to_owned()])).collect();
        commands.push(CommandGrant::new("cat", vec!["*".into()]));
        let spec = PluginSpec {
            grants: Grants { commands, ..Grants::default() },
            timeout: Some(Duration::from_secs(30)),
            ..PluginSpec::new("gate-probe", PluginSource::File(ORCH_TEST_GATE_PROBE.into()))
        };
        (runtime.load(spec).await.expect("the gate probe loads"), audit)
    }

    /// The gate probe's request to run `script` in the worktree.
    fn request(&self, script: &str) -> CheckRequest {
        orch_tests::check_request(&format!("sh {script}"), &self.path("worktree"))
    }

    /// Runs `script` in the worktree; the summary: `exit CODE: STDOUT | STDERR`.
    async fn run(&self, plugin: &LoadedPlugin, script: &str) -> String {
        plugin.check(&self.request(script)).await.unwrap_or_else(|e| panic!("{script}: {e}")).summary
    }
}

fn confined() -> Confinement {
    super::confinement()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_writes_only_its_worktree_and_scratch_and_reads_no_secrets() {
    let world = World::new();
    let sibling = world.path("sibling").display().to_string();
    let hooks = world.path("repo/.git/hooks/pre-commit").display().to_string();
    let canary = world.path("home/.ssh/id_ed25519").display().to_string();
    let real_home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let scripts = [
        "echo ok > in-worktree.txt && echo ok > \"$TMPDIR/t\" && echo ok > \"$HOME/h\" && echo wrote".to_owned(),
        format!("echo x > {sibling}/planted"),
        format!("echo x > {real_home}/orch-planted"),
        "echo x > /etc/orch-planted".to_owned(),
        format!("echo x > {hooks}"),
        format!("cat {canary}"),
        "grep -E '^(NoNewPrivs|CapEff|CapPrm):' /proc/self/status".to_owned(),
        "env | cut -d= -f1 | sort | tr '\\n' ' '".to_owned(),
    ];
    let script_refs: Vec<&str> = scripts.iter().map(String::as_str).collect();
    let (gate, _) = world.gate(&script_refs, confined()).await;
    let run = async |i: usize| world.run(&gate, &scripts[i]).await;

    assert!(
        run(0).await.starts_with("exit Some(0): wrote"),
        "the worktree, TMPDIR and HOME (a scratch one) are writable"
    );
    assert!(world.path("worktree/in-worktree.txt").exists());
    for (i, target) in [(1, world.path("sibling/planted")), (2, PathBuf::from(&real_home).join("orch-planted"))] {
        let out = run(i).await;
        assert!(out.contains("Permission denied") && !target.exists(), "{}: {out}", scripts[i]);
    }
    for i in [3, 4] {
        let out = run(i).await;
        assert!(out.contains("Permission denied"), "{}: {out}", scripts[i]);
    }
    assert!(!Path::new("/etc/orch-planted").exists() && !world.path("repo/.git/hooks/pre-commit").exists());
    let out = run(5).await;
    assert!(out.contains("Permission denied") && !out.contains("CANARY"), "the canary stays unread: {out}");
    let status = run(6).await;
    assert!(status.contains("NoNewPrivs: 1"), "{status}");
    assert!(status.contains("CapEff: 0000000000000000") && status.contains("CapPrm: 0000000000000000"), "{status}");
    let env = run(7).await;
    assert_eq!(
        env, "exit Some(0): HOME LANG PATH PWD TMPDIR | ",
        "only what a command needs; none of orch's variables"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_reaches_no_socket_and_no_process_of_orch() {
    let world = World::new();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let unix_path = world.path("orch.sock");
    let unix = UnixListener::bind(&unix_path).unwrap();
    unix.set_nonblocking(true).unwrap();
    let (tcp_port, udp_port) = (tcp.local_addr().unwrap().port(), udp.local_addr().unwrap().port());
    let me = std::process::id();
    let scripts = [
        format!("python3 -c \"import socket; socket.create_connection(('127.0.0.1', {tcp_port}), timeout=2)\""),
        format!(
            "python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {udp_port}))\""
        ),
        format!(
            "python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect('{}')\"",
            unix_path.display()
        ),
        format!("kill -0 {me}"),
        format!("cat /proc/{me}/environ"),
    ];
    let script_refs: Vec<&str> = scripts.iter().map(String::as_str).collect();
    let (gate, _) = world.gate(&script_refs, confined()).await;
    for script in &scripts {
        let out = world.run(&gate, script).await;
        assert!(!out.starts_with("exit Some(0)"), "{script}: {out}");
        assert!(
            ["Operation not permitted", "Permission denied", "not permitted"].iter().any(|m| out.contains(m)),
            "{script}: {out}"
        );
    }
    assert!(tcp.accept().is_err(), "no TCP connection reached the listener");
    assert!(udp.recv_from(&mut [0u8; 16]).is_err(), "no datagram reached the socket");
    assert!(unix.accept().is_err(), "no connection reached orch's Unix socket");
}

/// Processes whose command line holds `marker`.
fn running(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).replace('\0', " ").contains(marker))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_a_command_starts_outlives_its_call_and_a_fork_bomb_is_bounded() {
    let world = World::new();
    let scripts = [
        // A daemon that leaves the process group and the session.
        "setsid sleep 3131 > /dev/null 2>&1 < /dev/null & echo started".to_owned(),
        // Far more processes than a call may have.
        "i=0; while [ $i -lt 2000 ]; do sleep 3232 & i=$((i+1)); echo $i > forks; done".to_owned(),
    ];
    let script_refs: Vec<&str> = scripts.iter().map(String::as_str).collect();
    let (gate, _) = world.gate(&script_refs, confined()).await;
    assert!(world.run(&gate, &scripts[0]).await.starts_with("exit Some(0): started"));
    assert_eq!(running("sleep 3131"), 0, "the setsid child ended with the call");
    let out = world.run(&gate, &scripts[1]).await;
    let forks: u32 = std::fs::read_to_string(world.path("worktree/forks")).unwrap().trim().parse().unwrap();
    assert!(forks < orch_host::confine::cgroup::MAX_PIDS, "the cgroup stopped the forks at {forks}: {out}");
    assert_eq!(running("sleep 3232"), 0, "every forked child ended with the call");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_cgroup_the_helper_reaps_the_whole_tree_and_the_command_cannot_kill_it() {
    let world = World::new();
    let helper = Confinement::Enforce { helper: env!("CARGO_BIN_EXE_orch-sandbox-exec").into(), cgroups: false };
    let scripts = [
        // A daemon, then an attempt to kill the supervising helper, then an exit code.
        "setsid sleep 3434 > /dev/null 2>&1 < /dev/null & kill -9 $PPID 2>&1; echo started; exit 3".to_owned(),
        // A daemon still running when the call times out.
        "setsid sleep 3535 > /dev/null 2>&1 < /dev/null & sleep 60".to_owned(),
        "grep -E '^(NoNewPrivs|CapEff):' /proc/self/status".to_owned(),
    ];
    let script_refs: Vec<&str> = scripts.iter().map(String::as_str).collect();
    let (gate, _) = world.gate(&script_refs, helper).await;

    let out = world.run(&gate, &scripts[0]).await;
    assert!(out.starts_with("exit Some(3): ") && out.contains("started"), "the command's own code: {out}");
    assert!(out.contains("Operation not permitted"), "the command cannot signal its supervisor: {out}");
    assert_eq!(running("sleep 3434"), 0, "the setsid child ended with the call: {out}");

    let stopped = tokio::time::timeout(Duration::from_millis(1500), gate.check(&world.request(&scripts[1]))).await;
    assert!(stopped.is_err(), "the call was abandoned while its command ran");
    // The abandoned call's helper was asked to stop and kills the tree; give it a moment.
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = running("sleep 3535");
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "nothing of an abandoned call is left running");

    let status = world.run(&gate, &scripts[2]).await;
    assert!(status.contains("NoNewPrivs: 1") && status.contains("CapEff: 0000000000000000"), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worktree_git_pointer_is_put_back_and_the_opt_out_is_on_record() {
    let world = World::new();
    let pointer = world.path("worktree/.git");
    let original = std::fs::read_to_string(&pointer).unwrap();
    let script = "echo 'gitdir: /tmp/elsewhere' > .git";
    let (gate, _) = world.gate(&[script], confined()).await;
    let err = gate.check(&world.request(script)).await.unwrap_err().to_string();
    assert!(err.contains("changed the worktree's .git pointer; it was put back"), "{err}");
    assert_eq!(std::fs::read_to_string(&pointer).unwrap(), original);

    // Turned off, a command is a plain process, and every call says so.
    let sibling = world.path("sibling").display().to_string();
    let escape = format!("echo x > {sibling}/unconfined");
    let (open, audit) = world.gate(&[&escape], Confinement::Off).await;
    assert!(world.run(&open, &escape).await.starts_with("exit Some(0)"));
    assert!(world.path("sibling/unconfined").exists());
    assert!(audit.events().iter().any(|e| matches!(e, AuditEvent::Unconfined { .. })));
}

#[test]
fn the_helper_refuses_rather_than_run_a_command_it_cannot_confine() {
    let helper = env!("CARGO_BIN_EXE_orch-sandbox-exec");
    let out = std::process::Command::new(helper).arg("__sandbox-exec").env_clear().output().unwrap();
    assert_eq!(out.status.code(), Some(orch_host::confine::REFUSED));
    let policy = orch_host::confine::Policy {
        cgroup: Some("/nonexistent/cgroup".into()),
        ..orch_host::confine::Policy::new("/bin/true".into(), vec![], vec![], vec![], Path::new("/nonexistent"))
    };
    let out = std::process::Command::new(helper)
        .arg("__sandbox-exec")
        .env_clear()
        .env(orch_host::confine::POLICY_VAR, serde_json::to_string(&policy).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(orch_host::confine::REFUSED));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with(orch_host::confine::REFUSAL_PREFIX) && stderr.contains("cgroup"), "{stderr}");
}
