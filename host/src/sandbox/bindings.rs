//! The only place the host runs `bindgen!`: one module per world of the
//! current contract, `orch:plugin@0.2.0`, sharing the `types` and `host`
//! bindings of the first, and the same for the previous contract,
//! `orch:plugin@0.1.0`, in [`v0_1`]. Both versions' `types` interfaces are
//! the same, so the 0.1 worlds reuse the 0.2 types; the adapter
//! (`adapter.rs`) maps the rest. Everything else in the host uses the types
//! re-exported here.

/// The `router-plugin` world; owns the shared `types` and `host` bindings.
pub mod router {
    wasmtime::component::bindgen!({
        path: "../wit/0.2.0",
        world: "router-plugin",
        imports: { default: async },
        exports: { default: async },
    });
}

/// The `provider-plugin` world.
pub mod provider {
    wasmtime::component::bindgen!({
        path: "../wit/0.2.0",
        world: "provider-plugin",
        imports: { default: async },
        exports: { default: async },
        with: {
            "orch:plugin/types": super::router::orch::plugin::types,
            "orch:plugin/host": super::router::orch::plugin::host,
        },
    });
}

/// The `gate-plugin` world.
pub mod gate {
    wasmtime::component::bindgen!({
        path: "../wit/0.2.0",
        world: "gate-plugin",
        imports: { default: async },
        exports: { default: async },
        with: {
            "orch:plugin/types": super::router::orch::plugin::types,
            "orch:plugin/host": super::router::orch::plugin::host,
        },
    });
}

/// The worlds of `orch:plugin@0.1.0`, for plugins built against it. Its
/// `host` interface gets its own trait (the linker serves it under the 0.1
/// name), implemented by delegating to the 0.2 one.
pub mod v0_1 {
    /// The 0.1 `router-plugin` world; owns the 0.1 `host` bindings.
    pub mod router {
        wasmtime::component::bindgen!({
            path: "../wit/0.1.0",
            world: "router-plugin",
            imports: { default: async },
            exports: { default: async },
            with: { "orch:plugin/types": crate::sandbox::bindings::types },
        });
    }

    /// The 0.1 `provider-plugin` world.
    pub mod provider {
        wasmtime::component::bindgen!({
            path: "../wit/0.1.0",
            world: "provider-plugin",
            imports: { default: async },
            exports: { default: async },
            with: {
                "orch:plugin/types": crate::sandbox::bindings::types,
                "orch:plugin/host": super::router::orch::plugin::host,
            },
        });
    }

    /// The 0.1 `gate-plugin` world.
    pub mod gate {
        wasmtime::component::bindgen!({
            path: "../wit/0.1.0",
            world: "gate-plugin",
            imports: { default: async },
            exports: { default: async },
            with: {
                "orch:plugin/types": crate::sandbox::bindings::types,
                "orch:plugin/host": super::router::orch::plugin::host,
            },
        });
    }

    pub use router::orch::plugin::host;
}

pub use router::orch::plugin::host;
pub use router::orch::plugin::types;
