//! Build-script helper that compiles workspace guest crates to
//! `wasm32-wasip2` components, in the pattern of wasmtime's test-programs:
//! a nested `cargo build` into a target directory under `OUT_DIR`, then
//! generated constants naming each artifact.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The wasm target every orch plugin is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Names the rustup toolchain that builds the guests when it must differ
/// from the outer build's (e.g. `stable` under `cargo +nightly fuzz`, whose
/// nightly may have no wasm standard library to install).
pub const TOOLCHAIN_VAR: &str = "ORCH_GUEST_TOOLCHAIN";

/// One guest crate to build.
#[derive(Debug, Clone, Copy)]
pub struct Guest<'a> {
    /// Cargo package name, e.g. `orch-router-rules`.
    pub package: &'a str,
    /// Crate directory relative to the workspace root, watched for changes.
    pub dir: &'a str,
}

impl Guest<'_> {
    /// The artifact's file name: the package name with `-` as `_`, `.wasm`.
    pub fn file_name(&self) -> String {
        format!("{}.wasm", self.package.replace('-', "_"))
    }

    /// An upper-case Rust identifier for the package, e.g. `ORCH_ROUTER_RULES`.
    pub fn const_name(&self) -> String {
        self.package.replace('-', "_").to_uppercase()
    }
}

/// Builds `guests` in release mode for `wasm32-wasip2` and returns the path
/// of each component, in the same order. Panics with an actionable message
/// when the build cannot run: build scripts report failure by panicking.
pub fn build(workspace_root: &Path, guests: &[Guest<'_>]) -> Vec<PathBuf> {
    println!("cargo:rerun-if-env-changed={TOOLCHAIN_VAR}");
    ensure_target();
    for watched in ["wit", "sdk"] {
        println!("cargo:rerun-if-changed={}", workspace_root.join(watched).display());
    }
    println!("cargo:rerun-if-changed={}", workspace_root.join("Cargo.lock").display());
    for guest in guests {
        println!("cargo:rerun-if-changed={}", workspace_root.join(guest.dir).display());
    }

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let target_dir = out_dir.join("wasm-target");
    let mut cmd = tool("cargo", "CARGO");
    cmd.current_dir(workspace_root)
        .args(["build", "--release", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    if std::env::var_os("CARGO_NET_OFFLINE").is_some() {
        cmd.arg("--offline");
    }
    for guest in guests {
        cmd.args(["--package", guest.package]);
    }
    // The outer build's flags are for the host; the guests get their own.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false").env("CARGO_PROFILE_RELEASE_STRIP", "true");

    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run cargo to build the wasm plugins: {e}"));
    assert!(status.success(), "building the wasm plugins for {TARGET} failed (see the cargo output above)");

    guests
        .iter()
        .map(|guest| {
            let path = target_dir.join(TARGET).join("release").join(guest.file_name());
            assert!(
                path.is_file(),
                "{} built but {} is missing: is its crate-type [\"cdylib\"]?",
                guest.package,
                path.display()
            );
            path
        })
        .collect()
}

/// Writes `OUT_DIR/<file>` with one `pub const NAME: &str = "<path>";` per guest.
pub fn write_path_constants(file: &str, guests: &[Guest<'_>], paths: &[PathBuf]) {
    let mut src = String::new();
    for (guest, path) in guests.iter().zip(paths) {
        writeln!(
            src,
            "/// Component built from `{}`.\npub const {}: &str = {:?};",
            guest.dir,
            guest.const_name(),
            path.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    write_out(file, &src);
}

/// Writes `contents` to `OUT_DIR/<file>`.
pub fn write_out(file: &str, contents: &str) {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    std::fs::write(out_dir.join(file), contents).unwrap_or_else(|e| panic!("cannot write {file} into OUT_DIR: {e}"));
}

/// Makes sure the `wasm32-wasip2` standard library is installed, installing it
/// with rustup when possible; otherwise fails with the one command that fixes it.
fn ensure_target() {
    if target_installed() {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup");
    let mut add = Command::new("rustup");
    add.args(["target", "add", TARGET]);
    if let Some(toolchain) = guest_toolchain() {
        add.args(["--toolchain", &toolchain]);
    }
    let installed = add.status().is_ok_and(|s| s.success());
    assert!(
        installed && target_installed(),
        "the {TARGET} target is not installed; run: rustup target add {TARGET} \
         (or set {TOOLCHAIN_VAR} to a toolchain that has it)"
    );
}

/// The toolchain [`TOOLCHAIN_VAR`] names, if any.
fn guest_toolchain() -> Option<String> {
    std::env::var(TOOLCHAIN_VAR).ok().filter(|t| !t.is_empty())
}

/// Runs `program` of the guests' toolchain: the outer build's own (from
/// `outer_var`, as cargo sets it for build scripts), or the one
/// [`TOOLCHAIN_VAR`] names through `rustup run`, with the outer build's
/// tool paths removed so that they do not override it.
fn tool(program: &str, outer_var: &str) -> Command {
    match guest_toolchain() {
        Some(toolchain) => {
            let mut cmd = Command::new("rustup");
            cmd.args(["run", &toolchain, program]);
            for var in ["RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "CARGO"] {
                cmd.env_remove(var);
            }
            cmd
        }
        None => Command::new(std::env::var_os(outer_var).unwrap_or_else(|| program.into())),
    }
}

fn target_installed() -> bool {
    let Ok(out) = tool("rustc", "RUSTC").args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    sysroot.join("lib/rustlib").join(TARGET).join("lib").is_dir()
}
