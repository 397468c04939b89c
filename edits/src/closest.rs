//! The lines of a file most like a search text that was not found, quoted
//! back to the model with their numbers. Only messages use this: a match
//! is never decided by similarity.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::normalise::{is_elision, loose, similarity};
use crate::text::Lines;

/// The most lines quoted.
pub(crate) const MAX_LINES: usize = 12;
/// The longest line quoted, in bytes.
const MAX_LINE_BYTES: usize = 160;
/// How alike a single line must be to be quoted when no line is equal.
const MIN_SIMILARITY: f64 = 0.5;

/// The window of the file, as long as `needle` (at most [`MAX_LINES`]),
/// holding the most of its lines compared loosely; failing any, the lines
/// around the single line most like one of its lines. 1-based numbers.
pub(crate) fn closest(file: &Lines<'_>, needle: &[&str]) -> Vec<(usize, String)> {
    let wanted: Vec<Cow<'_, str>> =
        needle.iter().filter(|l| !l.trim().is_empty() && !is_elision(l)).map(|l| loose(l)).collect();
    if wanted.is_empty() || file.len() == 0 {
        return Vec::new();
    }
    let size = needle.len().clamp(1, file.len());
    let start = best_window(file.loose(), &wanted, needle, size).or_else(|| most_alike(file, needle, size));
    let Some(start) = start else { return Vec::new() };
    (start..(start + size).min(file.len()))
        .take(MAX_LINES)
        .map(|i| (i + 1, crate::quirks::bounded(file.content[i], MAX_LINE_BYTES)))
        .collect()
}

/// The start of the window of `size` lines sharing the most lines with
/// `wanted` (as a multiset), if any shares one; among windows sharing as
/// many, the one whose lines are most like `needle`'s, line by line.
fn best_window(lines: &[Cow<'_, str>], wanted: &[Cow<'_, str>], needle: &[&str], size: usize) -> Option<usize> {
    let mut need: HashMap<&str, usize> = HashMap::new();
    for line in wanted {
        *need.entry(line).or_default() += 1;
    }
    let mut have: HashMap<&str, usize> = HashMap::new();
    let mut score = 0usize;
    let mut best = (0usize, Vec::new());
    for (i, line) in lines.iter().enumerate() {
        if let Some(needed) = need.get(line.as_ref()) {
            let count = have.entry(line).or_default();
            if *count < *needed {
                score += 1;
            }
            *count += 1;
        }
        if i >= size {
            let gone: &str = &lines[i - size];
            if let Some(needed) = need.get(gone) {
                let count = have.get_mut(gone).expect("counted when it entered");
                *count -= 1;
                if *count < *needed {
                    score -= 1;
                }
            }
        }
        let start = (i + 1).saturating_sub(size);
        if score > best.0 {
            best = (score, vec![start]);
        } else if score == best.0 && score > 0 && best.1.len() < 64 && best.1.last() != Some(&start) {
            best.1.push(start);
        }
    }
    let alike = |start: usize| -> f64 {
        let window = lines.iter().skip(start).take(size);
        window.zip(needle).map(|(have, want)| similarity(have, &loose(want))).sum()
    };
    best.1
        .into_iter()
        .map(|start| (alike(start), start))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
        .map(|(_, start)| start)
}

/// The start of a window of `size` lines around the file line most like
/// one of the first lines of `needle`, if one is alike enough.
fn most_alike(file: &Lines<'_>, needle: &[&str], size: usize) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for (offset, line) in needle.iter().enumerate().filter(|(_, l)| !l.trim().is_empty()).take(8) {
        let wanted = loose(line);
        for (i, have) in file.loose().iter().enumerate() {
            let score = similarity(&wanted, have);
            if score >= MIN_SIMILARITY && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, i.saturating_sub(offset)));
            }
        }
    }
    best.map(|(_, start)| start.min(file.len().saturating_sub(size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_with_most_lines_in_common() {
        let file = Lines::new("a\nb\nc\nd\ne\nf\n");
        assert_eq!(closest(&file, &["c", "x", "e"]), [(3, "c".into()), (4, "d".into()), (5, "e".into())]);
        assert_eq!(closest(&file, &["  f  "]), [(6, "f".into())]);
    }

    #[test]
    fn else_the_most_alike_line() {
        let file = Lines::new("def total(items):\n    return sum(items)\n\ndef other():\n    pass\n");
        let near = closest(&file, &["def totl(items):", "    return sum(itms)"]);
        assert_eq!(near, [(1, "def total(items):".into()), (2, "    return sum(items)".into())]);
        assert!(closest(&file, &["zzzz qqqq"]).is_empty());
        assert!(closest(&file, &["", "..."]).is_empty());
    }
}
