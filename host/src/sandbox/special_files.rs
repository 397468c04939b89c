//! Opening a file through a preopen reaches only directories and regular
//! files. A FIFO, a device or a socket inside a granted read path (or made
//! by a gate's command in the worktree) could block the open or every read
//! on a host thread that no deadline can interrupt — and such a thread would
//! also hold up orch's exit. WASI's `open-at` is shadowed here: it looks at
//! what the path names first (without opening it) and refuses the rest with
//! `not-permitted`, recorded as a denied file access.
//!
//! Between the look and the open nothing of the plugin's runs: its commands
//! have ended (with every descendant) before `exec` returns.

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemView as _;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, Host as _, HostDescriptor, OpenFlags, PathFlags,
};

use super::audit::Capability;
use super::state::CallState;

/// The WASI filesystem interface whose `open-at` is shadowed: the version
/// `wasmtime_wasi::p2::add_to_linker_async` defines (older guests are served
/// by it through semver matching).
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Replaces WASI's `open-at` in `linker` with one that refuses special files.
pub(super) fn guard_open_at(linker: &mut Linker<CallState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(FILESYSTEM_TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store,
         (dir, path_flags, path, open_flags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::new(async move {
                let state = store.data_mut();
                let plugin = state.plugin.clone();
                let mut fs = state.filesystem();
                // The look follows symlinks exactly as the open would.
                let looked = fs.stat_at(Resource::new_borrow(dir.rep()), path_flags, path.clone()).await;
                if let Ok(stat) = &looked
                    && !matches!(
                        stat.type_,
                        DescriptorType::Directory | DescriptorType::RegularFile | DescriptorType::SymbolicLink
                    )
                {
                    plugin.deny(
                        Capability::File,
                        format!(
                            "`{path}` under a granted read path is a {}: only directories and regular files open",
                            kind(stat.type_)
                        ),
                    );
                    return Ok((Err(ErrorCode::NotPermitted),));
                }
                let opened = match fs.open_at(dir, path_flags, path, open_flags, flags).await {
                    Ok(descriptor) => Ok(descriptor),
                    Err(error) => Err(fs.convert_error_code(error)?),
                };
                Ok((opened,))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

fn kind(kind: DescriptorType) -> &'static str {
    match kind {
        DescriptorType::Fifo => "FIFO",
        DescriptorType::CharacterDevice => "character device",
        DescriptorType::BlockDevice => "block device",
        DescriptorType::Socket => "socket",
        // What wasmtime reports for FIFOs and sockets on Linux.
        _ => "special file (a FIFO, a socket or another kind)",
    }
}
