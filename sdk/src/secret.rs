//! Secret references: plugins name secrets, the host injects their values.

/// The reference the host replaces with the value of secret `name` when it
/// appears in an HTTP header value, e.g.
/// `format!("Bearer {}", secret("OPENAI_API_KEY"))`.
///
/// The plugin must ask for the secret in its capabilities and the operator
/// must grant it; the plugin itself never sees the value.
pub fn secret(name: &str) -> String {
    format!("secret:{name}")
}
