//! The only place the SDK runs `wit_bindgen::generate!`: one module per world,
//! sharing the `types` and `host` bindings. Plugin authors never name these
//! modules; the `register!` macro does.

/// Bindings for the `router` world; owns the shared `types` and `host` imports.
#[allow(missing_docs)] // Documented in the WIT; reached through re-exports.
pub mod router_world {
    wit_bindgen::generate!({
        world: "router-plugin",
        path: "../wit/0.2.0",
        default_bindings_module: "orch_sdk::__private::router_world",
        pub_export_macro: true,
        export_macro_name: "export",
        additional_derives: [PartialEq],
    });
}

/// Bindings for the `provider` world.
#[allow(missing_docs)]
pub mod provider_world {
    wit_bindgen::generate!({
        world: "provider-plugin",
        path: "../wit/0.2.0",
        default_bindings_module: "orch_sdk::__private::provider_world",
        pub_export_macro: true,
        export_macro_name: "export",
        additional_derives: [PartialEq],
        with: {
            "orch:plugin/types@0.2.0": crate::bindings::router_world::orch::plugin::types,
            "orch:plugin/host@0.2.0": crate::bindings::router_world::orch::plugin::host,
        },
    });
}

/// Bindings for the `gate` world.
#[allow(missing_docs)]
pub mod gate_world {
    wit_bindgen::generate!({
        world: "gate-plugin",
        path: "../wit/0.2.0",
        default_bindings_module: "orch_sdk::__private::gate_world",
        pub_export_macro: true,
        export_macro_name: "export",
        additional_derives: [PartialEq],
        with: {
            "orch:plugin/types@0.2.0": crate::bindings::router_world::orch::plugin::types,
            "orch:plugin/host@0.2.0": crate::bindings::router_world::orch::plugin::host,
        },
    });
}

pub use router_world::orch::plugin::{host, types};
