//! First-party plugins compiled from `plugins/` by the build script and
//! embedded in the binary, so users never build them by hand.

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// The component bytes of builtin plugin `name`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTIN_PLUGINS.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// The names of all builtin plugins.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTIN_PLUGINS.iter().map(|(name, _)| *name)
}
