//! Support for the integration tests and benchmarks: the paths of the test
//! plugins built from source, and a loopback HTTP server that records what
//! reaches it.

pub mod server;

/// Components built from `tests/plugins/*` by this crate's build script.
pub mod plugins {
    include!(concat!(env!("OUT_DIR"), "/test_plugins.rs"));
}
