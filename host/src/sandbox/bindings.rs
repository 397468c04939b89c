//! The only place the host runs `bindgen!`: one module per world of
//! `orch:plugin@0.1.0`, sharing the `types` and `host` bindings of the first.
//! Everything else in the host uses the types re-exported here.

/// The `router-plugin` world; owns the shared `types` and `host` bindings.
pub mod router {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "router-plugin",
        imports: { default: async },
        exports: { default: async },
    });
}

/// The `provider-plugin` world.
pub mod provider {
    wasmtime::component::bindgen!({
        path: "../wit",
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
        path: "../wit",
        world: "gate-plugin",
        imports: { default: async },
        exports: { default: async },
        with: {
            "orch:plugin/types": super::router::orch::plugin::types,
            "orch:plugin/host": super::router::orch::plugin::host,
        },
    });
}

pub use router::orch::plugin::host;
pub use router::orch::plugin::types;
