//! Rung 6 of the matching ladder: a search text with `...` lines (bare or
//! as a comment) is cut into pieces there, and so is its replacement; each
//! piece must be the only one of its kind after the piece before it, and
//! the code between pieces stays as it is.

use crate::closest::closest;
use crate::ladder::{Miss, Span, ladder};
use crate::normalise::is_elision;
use crate::text::Lines;

/// Rung 6 for an elided search: each piece's place (`None` for an empty
/// piece), found in order; `None` when the search has no `...` line.
pub(crate) fn elided(file: &Lines<'_>, needle: &[&str]) -> Option<Result<Vec<Option<Span>>, Miss>> {
    let pieces: Vec<&[&str]> = needle.split(|l| is_elision(l)).collect();
    if pieces.len() < 2 {
        return None;
    }
    let count = pieces.len();
    let mut from = 0;
    let mut spans = Vec::with_capacity(count);
    for (index, piece) in pieces.iter().enumerate() {
        if piece.iter().all(|l| l.trim().is_empty()) {
            spans.push(None);
            continue;
        }
        let wrap = |miss| Miss::ElisionPiece { piece: index + 1, pieces: count, miss: Box::new(miss) };
        match ladder(file, piece, from, None) {
            Ok(Some((_, span))) => {
                if let Span::Lines { start, len, .. } = &span {
                    from = start + len;
                }
                spans.push(Some(span));
            }
            Ok(None) => {
                let mut closest = closest(file, piece);
                closest.retain(|(line, _)| *line > from);
                return Some(Err(wrap(Miss::NotFound { closest })));
            }
            Err(miss) => return Some(Err(wrap(miss))),
        }
    }
    if spans.iter().all(Option::is_none) {
        return None;
    }
    Some(Ok(spans))
}

/// The replacement's lines split at its `...` lines into `count` pieces, or
/// how many `...` lines it has if that does not give `count` pieces.
pub(crate) fn pieces_of<'r, 'l>(lines: &'r [&'l str], count: usize) -> Result<Vec<&'r [&'l str]>, usize> {
    let pieces: Vec<&[&str]> = lines.split(|l| is_elision(l)).collect();
    if pieces.len() == count { Ok(pieces) } else { Err(pieces.len() - 1) }
}
