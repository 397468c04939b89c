//! The on-disk cache of compiled components, keyed by the component's
//! SHA-256 and the engine's compatibility hash (wasmtime version and
//! settings), so a second `orch` start loads native code instead of compiling.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, anyhow};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Whether a load was served from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded precompiled code from disk.
    Hit,
    /// Compiled now (and stored for next time when the cache is writable).
    Compiled,
}

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// A cache rooted at `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default location: `$ORCH_CACHE_DIR`, else `$XDG_CACHE_HOME/orch/components`,
    /// else `~/.cache/orch/components`, else a folder in the system temp dir.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("ORCH_CACHE_DIR") {
            return PathBuf::from(dir);
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("orch").join("components")
    }

    /// The SHA-256 of `bytes` as lowercase hex.
    pub fn content_hash(bytes: &[u8]) -> String {
        Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Loads the compiled form of `bytes` (whose SHA-256 is `sha256`), compiling
    /// and storing it on a miss. A cache that cannot be written only costs speed.
    pub fn load(&self, engine: &Engine, bytes: &[u8], sha256: &str) -> anyhow::Result<(Component, CacheOutcome)> {
        let path = self.entry_path(engine, sha256);
        if path.is_file() {
            match deserialize(engine, &path) {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(e) => tracing::warn!(path = %path.display(), "ignoring unusable cache entry: {e:#}"),
            }
        }
        let component = Component::new(engine, bytes).map_err(|e| anyhow!("{e:#}"))?;
        if let Err(e) = self.store(&component, &path) {
            tracing::warn!(dir = %self.dir.display(), "cannot write the component cache: {e:#}");
        }
        Ok((component, CacheOutcome::Compiled))
    }

    fn entry_path(&self, engine: &Engine, sha256: &str) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir.join(format!("{sha256}-{:016x}.cwasm", hasher.finish()))
    }

    fn store(&self, component: &Component, path: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let bytes = component.serialize().map_err(|e| anyhow!("{e:#}"))?;
        // Write under a name unique to this process and call, then rename:
        // readers never see half a file, and a file someone has mapped is
        // never modified in place.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp-{}-{unique}", std::process::id()));
        std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))
    }
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output.
    // Entries are only ever written by `ComponentCache::store` from
    // `Component::serialize`, atomically (rename), and named by the source's
    // SHA-256 plus the engine's compatibility hash; wasmtime additionally
    // checks the header for a matching version and configuration.
    unsafe { Component::deserialize_file(engine, path) }.map_err(|e| anyhow!("{e:#}"))
}
