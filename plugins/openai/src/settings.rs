//! The plugin's settings: the `base_url` and `api_key_secret` config keys,
//! their defaults and validation, and the capabilities they imply (the HTTP
//! origin of `base_url`, the API key secret).

use orch_sdk::{Capabilities, PluginError};

/// `base_url` when the config does not set it.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// `api_key_secret` when the config does not set it.
pub const DEFAULT_API_KEY_SECRET: &str = "OPENAI_API_KEY";

/// Validated settings for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The API root without a trailing slash, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The origin of `base_url`, `scheme://host[:port]`, as the host grants it.
    pub origin: String,
    /// The secret whose value goes into `Authorization: Bearer …`; `None`
    /// sends no `Authorization` header (local servers such as Ollama).
    pub api_key_secret: Option<String>,
}

impl Settings {
    /// Reads and validates the settings through `lookup`, which returns the
    /// raw config value of a key (the SDK's `config::get` in the plugin).
    ///
    /// An invalid value is an `invalid-input` error naming the key.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let raw_base = lookup("base_url").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base_url = raw_base.trim().trim_end_matches('/').to_owned();
        let origin = origin_of(&base_url).map_err(|why| {
            PluginError::InvalidInput(format!(
                "config key `base_url` (`{raw_base}`) is not valid: {why}; expected e.g. {DEFAULT_BASE_URL}"
            ))
        })?;
        let api_key_secret = match lookup("api_key_secret") {
            None => Some(DEFAULT_API_KEY_SECRET.to_owned()),
            Some(name) if name.is_empty() => None,
            Some(name) if is_secret_name(&name) => Some(name),
            Some(name) => {
                return Err(PluginError::InvalidInput(format!(
                    "config key `api_key_secret` (`{name}`) must be a secret name of letters, digits and `_`, \
                     or the empty string for no API key"
                )));
            }
        };
        Ok(Self { base_url, origin, api_key_secret })
    }

    /// The Chat Completions URL: `{base_url}/chat/completions`.
    pub fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }

    /// What the plugin asks the host for: HTTP to the origin of `base_url`
    /// and, unless disabled, the API key secret.
    pub fn capabilities(&self) -> Capabilities {
        let capabilities = Capabilities::default().http(self.origin.clone());
        match &self.api_key_secret {
            Some(name) => capabilities.secret(name.clone()),
            None => capabilities,
        }
    }
}

/// Secret names the host accepts: letters, digits and `_`.
fn is_secret_name(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `scheme://host[:port]` of an `http(s)` URL, lower-cased, the form the
/// host's grants are written in. An IPv6 host without a port gets the
/// scheme's default port written out, so the origin stays unambiguous.
fn origin_of(url: &str) -> Result<String, &'static str> {
    let (scheme, rest) = url.split_once("://").ok_or("it has no scheme")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return Err("the scheme must be http or https"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    if authority.contains('@') {
        return Err("credentials in the URL are not allowed; use `api_key_secret`");
    }
    let (host, port) = split_host_port(&authority)?;
    if host.is_empty() {
        return Err("the host is empty");
    }
    Ok(match (port, host.starts_with('[')) {
        (Some(port), _) => format!("{scheme}://{host}:{port}"),
        (None, true) => format!("{scheme}://{host}:{default_port}"),
        (None, false) => format!("{scheme}://{host}"),
    })
}

/// Splits `host[:port]`, where the host may be a bracketed IPv6 address.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or("the IPv6 host has no closing `]`")?;
        let (host, after) = authority.split_at(end + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or("junk after the IPv6 host")?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    match port {
        Some(port) if port.parse::<u16>().is_err() => Err("the port is not a number from 0 to 65535"),
        _ => Ok((host, port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, PluginError> {
        Settings::from_lookup(|key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn defaults_are_openai_with_its_key() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.base_url, "https://api.openai.com/v1");
        assert_eq!(s.origin, "https://api.openai.com");
        assert_eq!(s.api_key_secret.as_deref(), Some("OPENAI_API_KEY"));
        assert_eq!(s.endpoint(), "https://api.openai.com/v1/chat/completions");
        let caps = s.capabilities();
        assert_eq!(caps.http, vec!["https://api.openai.com".to_owned()]);
        assert_eq!(caps.secrets, vec!["OPENAI_API_KEY".to_owned()]);
        assert!(caps.read_paths.is_empty() && caps.commands.is_empty());
    }

    #[test]
    fn trailing_slash_and_port_are_handled() {
        let s = settings(&[("base_url", "http://127.0.0.1:8080/v1/"), ("api_key_secret", "LOCAL_KEY")]).unwrap();
        assert_eq!(s.endpoint(), "http://127.0.0.1:8080/v1/chat/completions");
        assert_eq!(s.origin, "http://127.0.0.1:8080");
        assert_eq!(s.capabilities().secrets, vec!["LOCAL_KEY".to_owned()]);
    }

    #[test]
    fn empty_secret_name_means_no_key() {
        let s = settings(&[("base_url", "http://localhost:11434/v1"), ("api_key_secret", "")]).unwrap();
        assert_eq!(s.api_key_secret, None);
        let caps = s.capabilities();
        assert_eq!(caps.http, vec!["http://localhost:11434".to_owned()]);
        assert!(caps.secrets.is_empty());
    }

    #[test]
    fn origin_is_lower_cased_and_ipv6_gets_a_port() {
        assert_eq!(settings(&[("base_url", "HTTPS://API.Example.com/v1")]).unwrap().origin, "https://api.example.com");
        assert_eq!(settings(&[("base_url", "http://[::1]/v1")]).unwrap().origin, "http://[::1]:80");
        assert_eq!(settings(&[("base_url", "http://[::1]:9000")]).unwrap().origin, "http://[::1]:9000");
        assert_eq!(settings(&[("base_url", "https://h.example?x=1")]).unwrap().origin, "https://h.example");
    }

    #[test]
    fn bad_values_name_the_key() {
        for bad in
            ["api.openai.com/v1", "ftp://x/v1", "https:///v1", "https://u:p@h/v1", "http://h:99999", "http://[::1"]
        {
            let err = settings(&[("base_url", bad)]).unwrap_err();
            assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("`base_url`")), "{bad}: {err:?}");
        }
        let err = settings(&[("api_key_secret", "my-key")]).unwrap_err();
        assert!(matches!(&err, PluginError::InvalidInput(m) if m.contains("`api_key_secret`")), "{err:?}");
    }
}
