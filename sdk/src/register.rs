//! The `register!` macro: turns a type implementing one of the plugin traits
//! into the component's exports, so authors never touch generated bindings.

use crate::{Plugin, PluginInfo, PluginKind};

/// Builds the `describe` answer for plugin `P` of `kind` at crate `version`.
pub fn describe<P: Plugin>(kind: PluginKind, version: &str) -> PluginInfo {
    PluginInfo {
        name: P::NAME.to_owned(),
        version: version.to_owned(),
        kind,
        description: P::DESCRIPTION.to_owned(),
        capabilities: P::default().capabilities(),
    }
}

/// Exports a plugin type as this component's implementation.
///
/// Use exactly once per plugin crate, naming the world and the type:
/// `orch_sdk::register!(router: MyRouter);`, `register!(provider: MyProvider)`
/// or `register!(gate: MyGate)`. The type must implement [`Plugin`](crate::Plugin),
/// [`Default`] and the world's trait. A fresh value is made for every call.
#[macro_export]
macro_rules! register {
    (router: $plugin:ty) => {
        $crate::register!(@world router_world, Router, router, $plugin,
            route(request: $crate::router::RouteRequest) -> $crate::router::RouteDecision
            => $crate::router::Router::route);
    };
    (provider: $plugin:ty) => {
        $crate::register!(@world provider_world, Provider, provider, $plugin,
            complete(request: $crate::provider::CompletionRequest) -> $crate::provider::Completion
            => $crate::provider::Provider::complete);
    };
    (gate: $plugin:ty) => {
        $crate::register!(@world gate_world, Gate, gate, $plugin,
            check(request: $crate::gate::CheckRequest) -> $crate::gate::CheckResult
            => $crate::gate::Gate::check);
    };
    (@world $world:ident, $kind:ident, $iface:ident, $plugin:ty,
        $func:ident($arg:ident: $arg_ty:ty) -> $ret:ty => $call:path) => {
        #[doc(hidden)]
        pub struct __OrchPluginExport;

        impl $crate::__private::$world::exports::orch::plugin::$iface::Guest for __OrchPluginExport {
            fn describe() -> $crate::PluginInfo {
                $crate::__private::describe::<$plugin>(
                    $crate::PluginKind::$kind,
                    ::core::env!("CARGO_PKG_VERSION"),
                )
            }

            fn $func($arg: $arg_ty) -> ::core::result::Result<$ret, $crate::PluginError> {
                let plugin: $plugin = ::core::default::Default::default();
                $call(&plugin, $arg)
            }
        }

        // Component exports only mean something in a wasm component; native
        // builds (tests, docs, `cargo check`) compile the plugin without them.
        #[cfg(target_arch = "wasm32")]
        $crate::__private::$world::export!(__OrchPluginExport with_types_in $crate::__private::$world);
    };
}
