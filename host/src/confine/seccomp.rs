//! The seccomp filter of a confined command: every system call is allowed
//! but those that would let it reach past Landlock — creating a socket of
//! any family (network or Unix: a pair of connected Unix sockets, from
//! `socketpair`, stays possible), io_uring (which bypasses seccomp),
//! tracing or reading other processes, mounting, new namespaces, kernel
//! keyrings, BPF — which fail with `EPERM`.

use std::collections::BTreeMap;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

/// The system calls a confined command may not make.
const DENIED: &[i64] = &[
    libc::SYS_socket,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
];

/// The filter for this machine's architecture.
pub fn filter() -> Result<BpfProgram, String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => TargetArch::x86_64,
        "aarch64" => TargetArch::aarch64,
        "riscv64" => TargetArch::riscv64,
        other => return Err(format!("seccomp filters are not built for {other}")),
    };
    let rules = DENIED.iter().map(|call| (*call, Vec::new())).collect::<BTreeMap<_, _>>();
    let errno = SeccompAction::Errno(libc::EPERM as u32);
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, errno, arch).map_err(|e| e.to_string())?;
    filter.try_into().map_err(|e: seccompiler::BackendError| e.to_string())
}

/// Applies the filter to this thread (and what it `execve`s).
pub fn apply() -> Result<(), String> {
    seccompiler::apply_filter(&filter()?).map_err(|e| format!("seccomp: {e}"))
}
