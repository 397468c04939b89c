//! What a component is before it runs: which world of the contract it
//! exports and for which contract version it was built. Checked from the
//! component's type, before anything is instantiated.

use std::fmt;

use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::{PluginId, SandboxError};

/// The contract version this host implements.
pub const API_VERSION: &str = "0.2.0";
/// The contract versions this host accepts, for messages: the current one
/// and the previous one (served through the adapter).
pub const SUPPORTED_VERSIONS: &str = "0.2.x and 0.1.x";

/// The world a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// `router-plugin`: chooses models.
    Router,
    /// `provider-plugin`: calls an LLM.
    Provider,
    /// `gate-plugin`: judges a change.
    Gate,
}

impl World {
    /// The contract's interface name for this world's export.
    pub fn interface(self) -> &'static str {
        match self {
            Self::Router => "router",
            Self::Provider => "provider",
            Self::Gate => "gate",
        }
    }

    fn from_interface(name: &str) -> Option<Self> {
        match name {
            "router" => Some(Self::Router),
            "provider" => Some(Self::Provider),
            "gate" => Some(Self::Gate),
            _ => None,
        }
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.interface())
    }
}

/// The world and contract version a component was built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The world it exports.
    pub world: World,
    /// The `orch:plugin` version in its export name, e.g. `0.2.0`.
    pub api_version: String,
}

impl Identity {
    /// Whether it was built for the previous contract, `0.1.x`.
    pub fn is_previous(&self) -> bool {
        minor(&self.api_version) == Some(1)
    }
}

/// Reads the component's exports and checks the contract version.
pub fn identify(engine: &Engine, component: &Component, plugin: &PluginId) -> Result<Identity, SandboxError> {
    let ty = component.component_type();
    let mut names = Vec::new();
    for (name, _) in ty.exports(engine) {
        names.push(name.to_owned());
        let Some(rest) = name.strip_prefix("orch:plugin/") else {
            continue;
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, "unversioned"));
        let Some(world) = World::from_interface(interface) else {
            continue;
        };
        if !is_supported(version) {
            return Err(SandboxError::ApiVersion {
                plugin: plugin.clone(),
                found: version.to_owned(),
                supported: SUPPORTED_VERSIONS.to_owned(),
            });
        }
        return Ok(Identity { world, api_version: version.to_owned() });
    }
    Err(SandboxError::NotAPlugin {
        plugin: plugin.clone(),
        exports: if names.is_empty() {
            "it exports nothing".to_owned()
        } else {
            format!("it exports {}", names.join(", "))
        },
    })
}

/// `0.2.x` and `0.1.x` are supported: for 0.y versions the minor number is
/// the breaking one.
fn is_supported(version: &str) -> bool {
    matches!(minor(version), Some(1 | 2))
}

/// `y` of a `0.y.z` version.
fn minor(version: &str) -> Option<u32> {
    let mut parts = version.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("0"), Some(minor), Some(_)) => minor.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::is_supported;

    #[test]
    fn the_current_and_the_previous_contract_are_supported() {
        assert!(is_supported("0.1.0"));
        assert!(is_supported("0.1.7"));
        assert!(is_supported("0.2.0"));
        assert!(!is_supported("0.3.0"));
        assert!(!is_supported("0.0.1"));
        assert!(!is_supported("1.1.0"));
        assert!(!is_supported("unversioned"));
    }
}
