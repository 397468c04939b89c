//! Prompt templates per role (`[prompts.ROLE]` in `orch.toml`, defaults in
//! the built-in config) and their rendering. Placeholders are `{{name}}`;
//! block placeholders (context, constraints, feedback, human) render with
//! their own heading, or as nothing when empty. Unknown placeholders are a
//! config error, found when the config is loaded.

use serde::Deserialize;

/// The templates of one role.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The system message.
    pub system: String,
    /// The user message.
    pub user: String,
}

/// `[prompts]`: one template per role.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompts {
    /// Writes the plan.
    pub planner: Template,
    /// Judges the plan.
    pub plan_reviewer: Template,
    /// Implements one step.
    pub implementer: Template,
    /// Judges one step's change.
    pub code_reviewer: Template,
}

/// Every placeholder a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "id",
    "goal",
    "risk",
    "area",
    "labels",
    "context",
    "constraints",
    "plan",
    "step",
    "files",
    "work",
    "edit_format",
    "feedback",
    "human",
];

impl Prompts {
    /// Checks every template's placeholders.
    pub fn validate(&self) -> Result<(), String> {
        let roles = [
            ("planner", &self.planner),
            ("plan_reviewer", &self.plan_reviewer),
            ("implementer", &self.implementer),
            ("code_reviewer", &self.code_reviewer),
        ];
        for (role, template) in roles {
            for (part, text) in [("system", &template.system), ("user", &template.user)] {
                for name in placeholders(text) {
                    if !PLACEHOLDERS.contains(&name) {
                        return Err(format!(
                            "[prompts.{role}] {part}: unknown placeholder {{{{{name}}}}}; known: {}",
                            PLACEHOLDERS.join(", ")
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The names inside `{{...}}` in `text`.
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split("{{").skip(1).filter_map(|rest| rest.split_once("}}").map(|(name, _)| name.trim()))
}

/// Values for the placeholders; unset ones render empty.
#[derive(Debug, Default)]
pub struct Vars<'a> {
    values: Vec<(&'static str, std::borrow::Cow<'a, str>)>,
}

impl<'a> Vars<'a> {
    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &'static str, value: impl Into<std::borrow::Cow<'a, str>>) -> &mut Self {
        self.values.push((name, value.into()));
        self
    }

    /// Sets a block: a heading and one bullet per item, or nothing.
    pub fn block(&mut self, name: &'static str, heading: &str, items: &[String]) -> &mut Self {
        if items.is_empty() {
            return self;
        }
        let mut text = format!("\n{heading}\n");
        for item in items {
            text.push_str("- ");
            text.push_str(item);
            text.push('\n');
        }
        self.set(name, text)
    }

    /// `template` with every placeholder replaced.
    pub fn render(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 256);
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            match rest[start + 2..].split_once("}}") {
                Some((name, after)) => {
                    let name = name.trim();
                    if let Some((_, value)) = self.values.iter().rev().find(|(n, _)| *n == name) {
                        out.push_str(value);
                    }
                    rest = after;
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values_and_blocks() {
        let mut vars = Vars::default();
        vars.set("goal", "fix it").block("feedback", "Feedback:", &["add a test".into()]).block("human", "Note:", &[]);
        assert_eq!(vars.render("Goal: {{goal}}{{feedback}}{{ human }}."), "Goal: fix it\nFeedback:\n- add a test\n.");
        assert_eq!(vars.render("{{unset}} {{ open"), " {{ open");
    }

    #[test]
    fn unknown_placeholders_are_named() {
        let template = Template { system: "ok {{goal}}".into(), user: "{{gaol}}".into() };
        let prompts = Prompts {
            planner: template.clone(),
            plan_reviewer: template.clone(),
            implementer: template.clone(),
            code_reviewer: template,
        };
        let err = prompts.validate().unwrap_err();
        assert!(err.starts_with("[prompts.planner] user: unknown placeholder {{gaol}}"), "{err}");
    }
}
