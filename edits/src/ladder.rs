//! The matching ladder: where a search text is in a file. Rungs are tried
//! in order and each must find exactly one place; a rung that finds two or
//! more refuses with their line numbers instead of trying looser ones.
//!
//! 1. exact (a search ending in a newline is whole lines; a fragment
//!    without one may also be found inside a line);
//! 2. line ends and trailing whitespace ignored;
//! 3. every line off by the same indentation: the replacement is shifted
//!    by it;
//! 4. lines compared trimmed, with typographic quotes, dashes and odd
//!    spaces read as ASCII: the replacement's indentation is translated
//!    the way the search's was;
//! 5. rungs 1–4 again without the search's leading and trailing blank lines;
//! 6. `...` lines split the search and the replacement into pieces found in
//!    order, each the only one after the piece before it.
//!
//! There is no edit-distance matching: similarity only picks the closest
//! lines quoted when nothing is found. A replacement already in the file
//! when its search text is not is a no-op (the caller warns), if it adds a
//! line the search does not have.

use std::fmt;
use std::ops::RangeInclusive;

use crate::closest::closest;
use crate::elision::{elided, pieces_of};
use crate::indent::Reindent;
use crate::normalise::{is_elision, loose};
use crate::text::{Lines, split_lines};

/// Which rung of the ladder found the search text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rung {
    /// Exactly as written.
    Exact,
    /// Ignoring line ends (CRLF) and trailing whitespace.
    TrailingWhitespace,
    /// With every line off by the same indentation.
    Indentation,
    /// Trimmed lines, with typographic quotes, dashes and spaces as ASCII.
    Normalised,
    /// Without the search's leading and trailing blank lines.
    BlankLines,
    /// Piece by piece between `...` lines.
    Elision,
}

impl Rung {
    /// How the rung compares, for messages: `ignoring trailing whitespace`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Exact => "exactly",
            Self::TrailingWhitespace => "ignoring line ends and trailing whitespace",
            Self::Indentation => "with its indentation shifted uniformly",
            Self::Normalised => "ignoring indentation, quote and dash styles and odd spaces",
            Self::BlankLines => "without its leading and trailing blank lines",
            Self::Elision => "piece by piece between its `...` lines",
        }
    }
}

impl fmt::Display for Rung {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Where the search text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The rung that found it.
    pub rung: Rung,
    /// The 1-based lines of each place found (one, or one per piece of an
    /// elided search).
    pub lines: Vec<RangeInclusive<usize>>,
}

/// A file with one replacement made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// The file's new text (unchanged when `already_applied`).
    pub text: String,
    /// The rung that found the search text (or, when `already_applied`,
    /// the replacement).
    pub rung: Rung,
    /// The 1-based line where the replacement starts.
    pub first_line: usize,
    /// The search text was not found but the replacement was, once: the
    /// edit was made already, so nothing changed.
    pub already_applied: bool,
}

/// Why a search text has no place in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Miss {
    /// No rung found it.
    #[error("the search text is not in the file{}", closest_range(closest))]
    NotFound {
        /// The lines of the file most like it, 1-based, for the message
        /// (empty when nothing is alike).
        closest: Vec<(usize, String)>,
    },
    /// A rung found it in several places.
    #[error(
        "the search text matches {} places ({}): lines {}; include more of the unchanged lines around the change so \
         it matches one",
        lines.len(),
        rung.describe(),
        line_list(lines)
    )]
    Ambiguous {
        /// The rung that found them.
        rung: Rung,
        /// The 1-based first line of each.
        lines: Vec<usize>,
    },
    /// The search text is empty and the file is not.
    #[error(
        "the search text is empty but the file exists and is not empty: give the lines to replace (or write the \
         whole file)"
    )]
    EmptySearch,
    /// The search and the replacement have different numbers of `...` lines.
    #[error(
        "the search has {search} `...` line(s) and the replacement {replace}: each `...` stands for the same code \
         left out in both, so they must have as many"
    )]
    ElisionMismatch {
        /// `...` lines in the search.
        search: usize,
        /// `...` lines in the replacement.
        replace: usize,
    },
    /// A piece of an elided search has no single place after the piece
    /// before it.
    #[error(
        "piece {piece} of {pieces} of the search (split at its `...` lines, or after each `@@` line of a patch hunk; \
         each piece is looked for below the one before): {miss}"
    )]
    ElisionPiece {
        /// 1-based.
        piece: usize,
        /// How many pieces.
        pieces: usize,
        /// What went wrong with it.
        miss: Box<Miss>,
    },
    /// A piece of an elided search is empty and its replacement is not.
    #[error(
        "piece {piece} of {pieces} of the search (split at its `...` lines) is empty but its replacement is not, so \
         nothing says where that goes"
    )]
    EmptyPiece {
        /// 1-based.
        piece: usize,
        /// How many pieces.
        pieces: usize,
    },
}

impl Miss {
    /// The closest lines of the file, when the search text (or a piece of
    /// it) was not found.
    pub fn closest(&self) -> &[(usize, String)] {
        match self {
            Self::NotFound { closest } => closest,
            Self::ElisionPiece { miss, .. } => miss.closest(),
            _ => &[],
        }
    }
}

fn closest_range(closest: &[(usize, String)]) -> String {
    match (closest.first(), closest.last()) {
        (Some((first, _)), Some((last, _))) if first == last => format!("; the closest is line {first}"),
        (Some((first, _)), Some((last, _))) => format!("; the closest lines are {first}–{last}"),
        _ => String::new(),
    }
}

/// `3, 9 and 12` (at most 20 listed).
fn line_list(lines: &[usize]) -> String {
    let shown: Vec<String> = lines.iter().take(20).map(usize::to_string).collect();
    let more = lines.len().saturating_sub(20);
    match (shown.split_last(), more) {
        (Some((last, [])), _) => last.clone(),
        (Some((last, rest)), 0) => format!("{} and {last}", rest.join(", ")),
        (_, more) => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Where in a file a piece was found, and how to put its replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Span {
    /// Whole lines `start..start + len`; the replacement is re-indented and
    /// loses as many leading and trailing blank lines as the search did.
    Lines { start: usize, len: usize, reindent: Reindent, dropped: (usize, usize) },
    /// Bytes `start..end` of the text (a fragment found exactly).
    Bytes { start: usize, end: usize },
}

impl Span {
    pub(crate) fn lines(&self, file: &Lines<'_>) -> RangeInclusive<usize> {
        match self {
            Self::Lines { start, len, .. } => start + 1..=start + len,
            Self::Bytes { start, end } => file.line_of(*start)..=file.line_of((*end).max(start + 1) - 1),
        }
    }
}

/// Where `search` is in `text`, by the ladder.
pub fn find(text: &str, search: &str) -> Result<Found, Miss> {
    let search = search.replace("\r\n", "\n");
    if search.trim().is_empty() {
        return Err(Miss::EmptySearch);
    }
    let file = Lines::new(text);
    let needle = split_lines(&search);
    let fragment = (!search.ends_with('\n')).then_some(search.as_str());
    if let Some((rung, span)) = ladder(&file, &needle, 0, fragment)? {
        return Ok(Found { rung, lines: vec![span.lines(&file)] });
    }
    match elided(&file, &needle) {
        Some(Ok(spans)) => {
            Ok(Found { rung: Rung::Elision, lines: spans.iter().flatten().map(|s| s.lines(&file)).collect() })
        }
        Some(Err(miss)) => Err(miss),
        None => Err(Miss::NotFound { closest: closest(&file, &needle) }),
    }
}

/// `text` with the one place of `search` replaced by `replacement`, by the
/// ladder; or, when the search text is not found and the replacement is,
/// once, `text` unchanged with `already_applied`.
pub fn replace(text: &str, search: &str, replacement: &str) -> Result<Replaced, Miss> {
    let search = search.replace("\r\n", "\n");
    let replacement = replacement.replace("\r\n", "\n");
    if search.trim().is_empty() {
        return Err(Miss::EmptySearch);
    }
    let file = Lines::new(text);
    let needle = split_lines(&search);
    let new = split_lines(&replacement);
    let fragment = (!search.ends_with('\n')).then_some(search.as_str());
    if let Some((rung, span)) = ladder(&file, &needle, 0, fragment)? {
        let first_line = *span.lines(&file).start();
        let text = rebuilt(&file, &[(span, &new)], &replacement);
        return Ok(Replaced { text, rung, first_line, already_applied: false });
    }
    let miss = match elided(&file, &needle) {
        None => Miss::NotFound { closest: closest(&file, &needle) },
        Some(Err(miss)) => miss,
        Some(Ok(spans)) => match pieces_of(&new, spans.len()) {
            Err(replace) => Miss::ElisionMismatch { search: spans.len() - 1, replace },
            Ok(pieces) => {
                let stray = |(span, piece): (&Option<Span>, &&[&str])| {
                    span.is_none() && piece.iter().any(|l| !l.trim().is_empty())
                };
                match spans.iter().zip(&pieces).position(stray) {
                    Some(piece) => Miss::EmptyPiece { piece: piece + 1, pieces: spans.len() },
                    None => {
                        let pairs: Vec<(Span, &[&str])> =
                            spans.into_iter().zip(pieces).filter_map(|(span, piece)| Some((span?, piece))).collect();
                        let first_line = pairs.first().map_or(1, |(span, _)| *span.lines(&file).start());
                        let text = rebuilt(&file, &pairs, &replacement);
                        return Ok(Replaced { text, rung: Rung::Elision, first_line, already_applied: false });
                    }
                }
            }
        },
    };
    // Made already? Only a replacement that adds a line the search does not
    // have (not a pure deletion, whose rest is there anyway), found once as
    // whole lines (a fragment such as `y` inside a line proves nothing).
    let adds = new.iter().any(|l| !l.trim().is_empty() && !needle.iter().any(|s| s.trim() == l.trim()));
    if adds
        && !new.iter().any(|l| is_elision(l))
        && let Ok(Some((rung, span))) = ladder(&file, &new, 0, None)
    {
        let first_line = *span.lines(&file).start();
        return Ok(Replaced { text: text.to_owned(), rung, first_line, already_applied: true });
    }
    Err(miss)
}

/// Rungs 1 to 5 for `needle` in the lines from `from` on: the one place,
/// none, or [`Miss::Ambiguous`].
pub(crate) fn ladder(
    file: &Lines<'_>,
    needle: &[&str],
    from: usize,
    fragment: Option<&str>,
) -> Result<Option<(Rung, Span)>, Miss> {
    if let Some(found) = rungs(file, needle, from, fragment)? {
        return Ok(Some(found));
    }
    let lead = needle.iter().take_while(|l| l.trim().is_empty()).count();
    let trail = needle.iter().rev().take_while(|l| l.trim().is_empty()).count();
    if lead == needle.len() || lead + trail == 0 {
        return Ok(None);
    }
    match rungs(file, &needle[lead..needle.len() - trail], from, None) {
        Ok(Some((_, Span::Lines { start, len, reindent, .. }))) => {
            Ok(Some((Rung::BlankLines, Span::Lines { start, len, reindent, dropped: (lead, trail) })))
        }
        Ok(other) => Ok(other),
        Err(Miss::Ambiguous { lines, .. }) => Err(Miss::Ambiguous { rung: Rung::BlankLines, lines }),
        Err(miss) => Err(miss),
    }
}

/// Rungs 1 to 4.
fn rungs(file: &Lines<'_>, needle: &[&str], from: usize, fragment: Option<&str>) -> Result<Option<(Rung, Span)>, Miss> {
    let n = needle.len();
    let Some(last) = file.len().checked_sub(n).filter(|_| n > 0) else {
        return Ok(None);
    };
    let starts = || from..=last;
    let plain = |start| Span::Lines { start, len: n, reindent: Reindent::Keep, dropped: (0, 0) };
    let window = |start: usize| &file.content[start..start + n];

    let exact: Vec<Span> = starts().filter(|&i| window(i) == needle).map(plain).collect();
    if let Some(found) = one(Rung::Exact, exact, file)? {
        return Ok(Some(found));
    }
    if let Some(fragment) = fragment.filter(|_| from == 0) {
        let fragment = fragment.replace('\n', file.eol);
        let bytes =
            file.text.match_indices(&fragment).map(|(start, _)| Span::Bytes { start, end: start + fragment.len() });
        if let Some(found) = one(Rung::Exact, bytes.collect(), file)? {
            return Ok(Some(found));
        }
    }
    let trimmed: Vec<&str> = needle.iter().map(|l| l.trim_end()).collect();
    let loose_end: Vec<Span> =
        starts().filter(|&i| window(i).iter().map(|l| l.trim_end()).eq(trimmed.iter().copied())).map(plain).collect();
    if let Some(found) = one(Rung::TrailingWhitespace, loose_end, file)? {
        return Ok(Some(found));
    }
    let shifted: Vec<Span> = starts()
        .filter_map(|i| {
            let reindent = Reindent::offset(window(i), needle)?;
            Some(Span::Lines { start: i, len: n, reindent, dropped: (0, 0) })
        })
        .collect();
    if let Some(found) = one(Rung::Indentation, shifted, file)? {
        return Ok(Some(found));
    }
    let keys: Vec<_> = needle.iter().map(|l| loose(l)).collect();
    let normalised: Vec<Span> = starts()
        .filter(|&i| file.loose()[i..i + n] == keys[..])
        .map(|i| Span::Lines { start: i, len: n, reindent: Reindent::map(window(i), needle), dropped: (0, 0) })
        .collect();
    one(Rung::Normalised, normalised, file)
}

/// The one place a rung found, nothing, or the places it found.
fn one(rung: Rung, mut spans: Vec<Span>, file: &Lines<'_>) -> Result<Option<(Rung, Span)>, Miss> {
    match spans.len() {
        0 => Ok(None),
        1 => Ok(spans.pop().map(|span| (rung, span))),
        _ => Err(Miss::Ambiguous { rung, lines: spans.iter().map(|s| *s.lines(file).start()).collect() }),
    }
}

/// The file with each span replaced by its lines (for a byte span, by the
/// whole `replacement` text), keeping the file's line ends and whether it
/// ends with one.
fn rebuilt(file: &Lines<'_>, pairs: &[(Span, &[&str])], replacement: &str) -> String {
    let mut out = String::with_capacity(file.text.len() + replacement.len());
    let mut next = 0;
    for (span, new) in pairs {
        match span {
            Span::Bytes { start, end } => {
                out.push_str(&file.text[..*start]);
                out.push_str(&replacement.replace('\n', file.eol));
                out.push_str(&file.text[*end..]);
                return out;
            }
            Span::Lines { start, len, reindent, dropped: (lead, trail) } => {
                out.extend(file.raw[next..*start].iter().copied());
                let lead = new.iter().take(*lead).take_while(|l| l.trim().is_empty()).count();
                let trail = new[lead..].iter().rev().take(*trail).take_while(|l| l.trim().is_empty()).count();
                for line in &new[lead..new.len() - trail] {
                    out.push_str(&reindent.apply(line));
                    out.push_str(file.eol);
                }
                next = start + len;
            }
        }
    }
    out.extend(file.raw[next..].iter().copied());
    if !file.text.is_empty() && !file.text.ends_with('\n') && out.ends_with('\n') {
        out.pop();
        if out.ends_with('\r') && file.eol == "\r\n" {
            out.pop();
        }
    }
    out
}

#[cfg(test)]
mod tests;
