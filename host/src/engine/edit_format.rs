//! Which edit format the implementer answers in, per model: `[pipeline]
//! edit_format` names one format for every model, or `auto`, which looks the
//! model up in `[edit_formats]` (model name patterns, `*` matching any run
//! of characters; the longest matching pattern wins, `search-replace` when
//! none does). The built-in table gives each model family the format it does
//! best with.

use std::collections::BTreeMap;

use orch_edits::Format;

/// The implementer's edit format for each model.
#[derive(Debug, Clone)]
pub struct EditFormats {
    fixed: Option<Format>,
    by_model: BTreeMap<String, Format>,
}

impl EditFormats {
    /// From `[pipeline] edit_format` (`auto` or a format) and `[edit_formats]`.
    pub fn new(setting: &str, by_model: BTreeMap<String, Format>) -> Result<Self, String> {
        let fixed = match setting {
            "auto" => None,
            name => Some(name.parse::<Format>().map_err(|e| format!("[pipeline] edit_format: {e}, or auto"))?),
        };
        Ok(Self { fixed, by_model })
    }

    /// `format` for every model.
    pub fn fixed(format: Format) -> Self {
        Self { fixed: Some(format), by_model: BTreeMap::new() }
    }

    /// The format `model` answers in.
    pub fn for_model(&self, model: &str) -> Format {
        if let Some(format) = self.fixed {
            return format;
        }
        self.by_model
            .iter()
            .filter(|(pattern, _)| crate::sandbox::glob::matches(pattern, model))
            .max_by_key(|(pattern, _)| pattern.len())
            .map_or(Format::SearchReplace, |(_, format)| *format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_matching_pattern_wins() {
        let table = BTreeMap::from([
            ("*".to_owned(), Format::SearchReplace),
            ("gpt-5*".to_owned(), Format::Patch),
            ("*:*".to_owned(), Format::Whole),
            ("gpt-5-nano*".to_owned(), Format::Whole),
        ]);
        let formats = EditFormats::new("auto", table.clone()).unwrap();
        assert_eq!(formats.for_model("gpt-5.1"), Format::Patch);
        assert_eq!(formats.for_model("gpt-5-nano"), Format::Whole);
        assert_eq!(formats.for_model("qwen2.5-coder:32b"), Format::Whole);
        assert_eq!(formats.for_model("claude-sonnet-5-5"), Format::SearchReplace);
        assert_eq!(EditFormats::new("auto", BTreeMap::new()).unwrap().for_model("x"), Format::SearchReplace);
        assert_eq!(EditFormats::new("whole", table).unwrap().for_model("gpt-5.1"), Format::Whole, "fixed");
        let err = EditFormats::new("diff", BTreeMap::new()).unwrap_err();
        assert!(err.starts_with("[pipeline] edit_format: "), "{err}");
    }
}
