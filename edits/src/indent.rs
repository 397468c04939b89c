//! Re-indenting a replacement the way its search text was found: by the
//! uniform offset the search was off by, or by translating each search
//! indentation to the file's (including spaces to tabs and back), so the
//! replacement keeps the file's indentation style.

use crate::text::indentation;

/// How the lines of a replacement are re-indented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reindent {
    /// As written.
    Keep,
    /// This whitespace goes before every non-blank line.
    Add(String),
    /// This whitespace comes off the front of every non-blank line.
    Remove(String),
    /// Each search indentation stands for a file indentation.
    Map {
        /// (search indentation, file indentation), first seen first.
        pairs: Vec<(String, String)>,
        /// How to convert indentation the pairs do not cover.
        tabs: TabConversion,
    },
}

/// A tab width seen between the search and the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TabConversion {
    /// Neither, or no consistent width.
    None,
    /// The search indents with this many spaces where the file has a tab.
    SpacesToTabs(usize),
    /// The file indents with this many spaces where the search has a tab.
    TabsToSpaces(usize),
}

impl Reindent {
    /// The uniform offset between `file` lines and `search` lines (file
    /// minus search, or search minus file), if every non-blank line has the
    /// same one and it is not empty; blank lines must face blank lines.
    pub(crate) fn offset(file: &[&str], search: &[&str]) -> Option<Self> {
        // (added?, the whitespace): borrowed until one offset is known to fit.
        let mut offset: Option<(bool, &str)> = None;
        for (f, s) in file.iter().zip(search) {
            let (f, s) = (f.trim_end(), s.trim_end());
            if s.trim_start().is_empty() || f.trim_start().is_empty() {
                if s.trim_start().is_empty() && f.trim_start().is_empty() {
                    continue;
                }
                return None;
            }
            let this = if let Some(added) = f.strip_suffix(s).filter(|p| p.trim().is_empty()) {
                (true, added)
            } else if let Some(removed) = s.strip_suffix(f).filter(|p| p.trim().is_empty()) {
                (false, removed)
            } else {
                return None;
            };
            match offset {
                Some(seen) if seen != this => return None,
                Some(_) => {}
                None => offset = Some(this),
            }
        }
        match offset? {
            (_, "") => None,
            (true, added) => Some(Self::Add(added.to_owned())),
            (false, removed) => Some(Self::Remove(removed.to_owned())),
        }
    }

    /// The translation from the search's indentations to the file's, from
    /// the lines found (loosely) to match.
    pub(crate) fn map(file: &[&str], search: &[&str]) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut tabs = TabConversion::None;
        for (f, s) in file.iter().zip(search) {
            if s.trim().is_empty() {
                continue;
            }
            let (f, s) = (indentation(f), indentation(s));
            if !pairs.iter().any(|(key, _)| key == s) {
                pairs.push((s.to_owned(), f.to_owned()));
            }
            if tabs == TabConversion::None && !f.is_empty() && !s.is_empty() {
                let all = |text: &str, c: char| text.chars().all(|x| x == c);
                if all(f, '\t') && all(s, ' ') && s.len() % f.len() == 0 {
                    tabs = TabConversion::SpacesToTabs(s.len() / f.len());
                } else if all(f, ' ') && all(s, '\t') && f.len() % s.len() == 0 {
                    tabs = TabConversion::TabsToSpaces(f.len() / s.len());
                }
            }
        }
        if tabs == TabConversion::None && pairs.iter().all(|(s, f)| s == f) {
            return Self::Keep;
        }
        Self::Map { pairs, tabs }
    }

    /// `line` re-indented (blank lines stay as they are).
    pub(crate) fn apply(&self, line: &str) -> String {
        if line.trim().is_empty() {
            return line.to_owned();
        }
        match self {
            Self::Keep => line.to_owned(),
            Self::Add(prefix) => format!("{prefix}{line}"),
            Self::Remove(prefix) => match line.strip_prefix(prefix.as_str()) {
                Some(rest) => rest.to_owned(),
                None => {
                    // Less indented than the offset: take off what it has of it.
                    let common = line.chars().zip(prefix.chars()).take_while(|(a, b)| a == b).count();
                    line.chars().skip(common).collect()
                }
            },
            Self::Map { pairs, tabs } => {
                let ws = indentation(line);
                let rest = &line[ws.len()..];
                if let Some((_, to)) = pairs.iter().find(|(from, _)| from == ws) {
                    return format!("{to}{rest}");
                }
                let longest =
                    pairs.iter().filter(|(from, _)| ws.starts_with(from.as_str())).max_by_key(|(f, _)| f.len());
                match longest {
                    Some((from, to)) => format!("{to}{}{rest}", convert(&ws[from.len()..], *tabs)),
                    None => format!("{}{rest}", convert(ws, *tabs)),
                }
            }
        }
    }
}

/// Indentation `ws` in the file's style, if a tab width is known and `ws`
/// is all of the other kind.
fn convert(ws: &str, tabs: TabConversion) -> String {
    match tabs {
        TabConversion::SpacesToTabs(width) if ws.chars().all(|c| c == ' ') => {
            format!("{}{}", "\t".repeat(ws.len() / width), " ".repeat(ws.len() % width))
        }
        TabConversion::TabsToSpaces(width) if ws.chars().all(|c| c == '\t') => " ".repeat(ws.len() * width),
        _ => ws.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uniform_offset_either_way() {
        let file = ["    def f():", "", "        return 1"];
        assert_eq!(Reindent::offset(&file, &["def f():", "", "    return 1"]), Some(Reindent::Add("    ".into())));
        assert_eq!(Reindent::offset(&["x", "  y"], &["  x", "    y"]), Some(Reindent::Remove("  ".into())));
        assert_eq!(Reindent::offset(&["  x", "y"], &["x", "y"]), None, "not uniform");
        assert_eq!(Reindent::offset(&["x"], &["x"]), None, "no offset");
        assert_eq!(Reindent::offset(&["\tx"], &["    x"]), None, "tabs are not spaces");
        assert_eq!(Reindent::offset(&["x", "y"], &["x", ""]), None, "blank faces blank");
        let add = Reindent::Add("\t".into());
        assert_eq!(add.apply("x"), "\tx");
        assert_eq!(add.apply(""), "");
        let remove = Reindent::Remove("    ".into());
        assert_eq!(remove.apply("      x"), "  x");
        assert_eq!(remove.apply("  x"), "x");
    }

    #[test]
    fn a_map_keeps_the_files_tabs() {
        let map = Reindent::map(&["\tif x:", "\t\treturn 1"], &["    if x:", "        return 1"]);
        assert_eq!(map.apply("        return 2"), "\t\treturn 2");
        assert_eq!(map.apply("            deeper()"), "\t\t\tdeeper()");
        assert_eq!(map.apply("x"), "x");
        let map = Reindent::map(&["    a"], &["\ta"]);
        assert_eq!(map.apply("\t\tb"), "        b");
        assert_eq!(Reindent::map(&["  a", "b"], &["  a", "b"]), Reindent::Keep);
    }
}
