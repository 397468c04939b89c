//! Reading the plugin's configuration: the `[plugins.NAME.config]` table of
//! `orch.toml`.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::PluginError;
use crate::bindings::host;

/// The raw value of `key`: strings as written, other values as JSON text.
pub fn get(key: &str) -> Option<String> {
    host::config(key)
}

/// The config key under which the host hands a provider the idempotency key
/// of the call it serves.
pub const IDEMPOTENCY_KEY: &str = "orch.idempotency-key";

/// During a provider's `complete`: the host's idempotency key for this call,
/// as the host hands it to plugins built for contract 0.1. It is the same
/// every time the host makes the call again (after a killed run left it in
/// flight, or after a transient error) and different for every other call,
/// so a provider whose API accepts an idempotency key can send it and be
/// billed once.
///
/// Deprecated: since contract 0.2 the key is part of the request,
/// [`CompletionRequest::idempotency_key`](crate::provider::CompletionRequest::idempotency_key).
/// Read that; fall back to this only to serve a host that leaves the field
/// empty:
///
/// ```no_run
/// # let request: orch_sdk::provider::CompletionRequest = unimplemented!();
/// #[allow(deprecated)]
/// let key = request.idempotency_key.clone().or_else(orch_sdk::config::idempotency_key);
/// ```
#[deprecated(since = "0.2.0", note = "read `CompletionRequest::idempotency_key`; this config key is for 0.1 plugins")]
pub fn idempotency_key() -> Option<String> {
    get(IDEMPOTENCY_KEY)
}

/// The value of `key` parsed from JSON into `T`, or `None` when it is not set.
///
/// A value that does not parse is an `invalid-input` error naming the key.
pub fn json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, PluginError> {
    let Some(raw) = get(key) else {
        return Ok(None);
    };
    parse_owned(key, &raw).map(Some)
}

/// Parses `raw`, the JSON value of `key` read with [`get`], into a `T` that
/// may borrow from it (cheaper than [`json`] for large values). A value that
/// does not parse is an `invalid-input` error naming the key.
pub fn parse<'a, T: Deserialize<'a>>(key: &str, raw: &'a str) -> Result<T, PluginError> {
    serde_json::from_str(raw).map_err(|e| PluginError::InvalidInput(format!("config key `{key}` is not valid: {e}")))
}

fn parse_owned<T: DeserializeOwned>(key: &str, raw: &str) -> Result<T, PluginError> {
    serde_json::from_str(raw).or_else(|first| {
        // Plain strings come back unquoted; try them as a JSON string.
        serde_json::from_value(serde_json::Value::String(raw.to_owned()))
            .map_err(|_| PluginError::InvalidInput(format!("config key `{key}` is not valid: {first}")))
    })
}

#[cfg(test)]
mod tests {
    use super::parse_owned;

    #[test]
    fn parses_json_and_plain_strings() {
        let n: u32 = parse_owned("n", "42").unwrap();
        assert_eq!(n, 42);
        let s: String = parse_owned("s", "hello").unwrap();
        assert_eq!(s, "hello");
        let err = parse_owned::<Vec<u32>>("list", "[1, x]").unwrap_err();
        assert!(err.to_string().contains("config key `list`"), "{err}");
    }
}
