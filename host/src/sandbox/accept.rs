//! What a plugin returns, accepted only within the limits of
//! [`crate::untrusted`] and with its one-line fields made printable: routing
//! decisions, completions, gate results, typed errors and self-descriptions.

use super::bindings::types::{PluginError, PluginInfo};
use super::plugin::{CheckResult, Completion, RouteDecision};
use crate::untrusted::{
    FILE_BYTES, LINE_BYTES, MAX_FALLBACKS, MAX_FINDINGS, NAME_BYTES, Oversized, TEXT_BYTES, bounded, clean, counted,
};

/// A routing decision.
pub fn decision(mut d: RouteDecision) -> Result<RouteDecision, Oversized> {
    counted("fallbacks", &d.fallbacks, MAX_FALLBACKS)?;
    bounded("a router reason", &d.reason, LINE_BYTES)?;
    for (provider, model) in std::iter::once((&mut d.provider, &mut d.model))
        .chain(d.fallbacks.iter_mut().map(|f| (&mut f.provider, &mut f.model)))
    {
        bounded("a provider name", provider, NAME_BYTES)?;
        bounded("a model name", model, NAME_BYTES)?;
        clean(provider);
        clean(model);
    }
    clean(&mut d.reason);
    Ok(d)
}

/// A completion: its text stays as written (it is data, never printed), the
/// model it names is a name.
pub fn completion(mut c: Completion) -> Result<Completion, Oversized> {
    bounded("a completion text", &c.text, TEXT_BYTES)?;
    bounded("a model name", &c.model, NAME_BYTES)?;
    clean(&mut c.model);
    Ok(c)
}

/// A gate result.
pub fn check(mut r: CheckResult) -> Result<CheckResult, Oversized> {
    bounded("a gate summary", &r.summary, LINE_BYTES)?;
    counted("findings", &r.findings, MAX_FINDINGS)?;
    clean(&mut r.summary);
    for finding in &mut r.findings {
        bounded("a finding", &finding.message, LINE_BYTES)?;
        clean(&mut finding.message);
        if let Some(file) = &mut finding.file {
            bounded("a finding's file", file, FILE_BYTES)?;
            clean(file);
        }
    }
    Ok(r)
}

/// A plugin's own typed error: its message is cut to the line limit (an
/// error is reported, not refused) and made printable.
pub fn error(error: PluginError) -> PluginError {
    let line = |m: String| {
        let mut m = if m.len() > LINE_BYTES {
            format!("{}… [cut at {LINE_BYTES} bytes]", &m[..m.floor_char_boundary(LINE_BYTES)])
        } else {
            m
        };
        clean(&mut m);
        m
    };
    match error {
        PluginError::Transient(m) => PluginError::Transient(line(m)),
        PluginError::Fatal(m) => PluginError::Fatal(line(m)),
        PluginError::InvalidInput(m) => PluginError::InvalidInput(line(m)),
        PluginError::Denied(m) => PluginError::Denied(line(m)),
        PluginError::BudgetExceeded(m) => PluginError::BudgetExceeded(line(m)),
        rate_limited @ PluginError::RateLimited(_) => rate_limited,
    }
}

/// Most entries in each list of capabilities a plugin asks for.
const MAX_CAPABILITIES: usize = 64;

/// A self-description, with the capabilities it asks for. Those are data
/// (a command's argument may hold a script with line breaks): bounded, not
/// rewritten; what shows them makes them printable.
pub fn info(mut info: PluginInfo) -> Result<PluginInfo, Oversized> {
    bounded("a plugin name", &info.name, NAME_BYTES)?;
    bounded("a plugin version", &info.version, NAME_BYTES)?;
    bounded("a plugin description", &info.description, LINE_BYTES)?;
    let caps = &mut info.capabilities;
    counted("HTTP origins asked for", &caps.http, MAX_CAPABILITIES)?;
    counted("secrets asked for", &caps.secrets, MAX_CAPABILITIES)?;
    counted("read paths asked for", &caps.read_paths, MAX_CAPABILITIES)?;
    counted("commands asked for", &caps.commands, MAX_CAPABILITIES)?;
    for command in &caps.commands {
        counted("command arguments asked for", &command.args, MAX_CAPABILITIES)?;
    }
    let commands = caps.commands.iter().flat_map(|c| std::iter::once(&c.program).chain(&c.args));
    for text in caps.http.iter().chain(&caps.secrets).chain(&caps.read_paths).chain(commands) {
        bounded("a capability", text, LINE_BYTES)?;
    }
    clean(&mut info.name);
    clean(&mut info.version);
    clean(&mut info.description);
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Finding, ModelChoice, Severity, StopReason, Usage};

    #[test]
    fn what_a_plugin_returns_is_bounded_and_printable() {
        let choice = |m: &str| ModelChoice { provider: "p".into(), model: m.into() };
        let decision = |reason: String, fallbacks: usize| RouteDecision {
            provider: "p".into(),
            model: "m\x1b[2J".into(),
            reason,
            fallbacks: (0..fallbacks).map(|_| choice("f\nforged")).collect(),
        };
        let ok = super::decision(decision("ok\r\nforged".into(), 2)).unwrap();
        assert_eq!(
            (ok.model.as_str(), ok.reason.as_str(), ok.fallbacks[0].model.as_str()),
            ("m [2J", "ok  forged", "f forged")
        );
        let long = super::decision(decision("x".repeat(LINE_BYTES + 1), 0)).unwrap_err();
        assert_eq!(
            long.to_string(),
            format!("returned a router reason of {} bytes; the limit is {LINE_BYTES}", LINE_BYTES + 1)
        );
        assert!(super::decision(decision("ok".into(), MAX_FALLBACKS + 1)).is_err());

        let finding =
            |message: String| Finding { severity: Severity::Error, file: Some("a\n.py".into()), line: None, message };
        let result = |summary: String, findings: Vec<Finding>| CheckResult { passed: false, summary, findings };
        let ok = check(result("1\u{202E} error".into(), vec![finding("E1\n".into())])).unwrap();
        assert_eq!((ok.summary.as_str(), ok.findings[0].message.as_str()), ("1 error", "E1 "));
        assert_eq!(ok.findings[0].file.as_deref(), Some("a .py"));
        assert!(check(result("s".repeat(LINE_BYTES + 1), vec![])).is_err());
        assert!(check(result("s".into(), (0..=MAX_FINDINGS).map(|_| finding("m".into())).collect())).is_err());

        let text = |t: String| Completion {
            text: t,
            usage: Usage { input_tokens: 1, output_tokens: 1, cached_input_tokens: 0, cache_write_tokens: 0 },
            stop_reason: StopReason::EndTurn,
            model: "gpt\n".into(),
        };
        let ok = completion(text("line one\nline two".into())).unwrap();
        assert_eq!(
            (ok.text.as_str(), ok.model.as_str()),
            ("line one\nline two", "gpt "),
            "the text is data, kept as is"
        );
        assert!(completion(text("x".repeat(TEXT_BYTES + 1))).is_err());

        let cut = error(PluginError::Fatal(format!("bad\x1b]0;title\x07{}", "y".repeat(LINE_BYTES))));
        let PluginError::Fatal(message) = cut else { panic!("the kind is kept") };
        assert!(
            message.len() < LINE_BYTES + 40 && message.ends_with("[cut at 4096 bytes]") && !message.contains('\x1b')
        );
    }
}
