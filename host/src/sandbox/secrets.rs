//! Where secret values come from. Plugins only ever name a secret; the host
//! looks the value up here when it injects it into an outgoing request.

/// A source of secret values by name.
pub trait SecretSource: Send + Sync {
    /// The value of secret `name`, if it is set.
    fn get(&self, name: &str) -> Option<String>;
}

/// Secrets from environment variables of the same name (`OPENAI_API_KEY`).
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvSecrets;

impl SecretSource for EnvSecrets {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A fixed set of secrets, e.g. for tests.
#[derive(Debug, Default, Clone)]
pub struct StaticSecrets(pub Vec<(String, String)>);

impl SecretSource for StaticSecrets {
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }
}
