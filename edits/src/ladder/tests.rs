//! The ladder, rung by rung: what each finds, what it refuses (with the
//! line numbers of every place), and how the replacement is made.

use super::*;

/// `replace` that must succeed: the new text and the rung.
fn replaced(text: &str, search: &str, replacement: &str) -> (String, Rung) {
    let done = replace(text, search, replacement).unwrap_or_else(|miss| panic!("{miss}"));
    assert!(!done.already_applied);
    (done.text, done.rung)
}

fn ambiguous(text: &str, search: &str) -> (Rung, Vec<usize>) {
    match replace(text, search, "new\n") {
        Err(Miss::Ambiguous { rung, lines }) => (rung, lines),
        other => panic!("{other:?}"),
    }
}

const FILE: &str = "def total(items):\n    return sum(items)\n\n\ndef count(items):\n    return len(items)\n";

#[test]
fn exact() {
    let (text, rung) = replaced(FILE, "    return sum(items)\n", "    return round(sum(items), 2)\n");
    assert_eq!(rung, Rung::Exact);
    assert_eq!(text, FILE.replace("return sum(items)", "return round(sum(items), 2)"));
    assert_eq!(ambiguous("a\nx\nb\nx\n", "x\n"), (Rung::Exact, vec![2, 4]));
    // Overlapping places count too.
    assert_eq!(ambiguous("a\na\na\n", "a\na\n"), (Rung::Exact, vec![1, 2]));
}

#[test]
fn trailing_whitespace_and_line_ends() {
    let file = "a  \r\nb\t\r\nc\r\n";
    let (text, rung) = replaced(file, "a\nb\n", "x\ny\n");
    assert_eq!(rung, Rung::TrailingWhitespace);
    assert_eq!(text, "x\r\ny\r\nc\r\n", "the file's CRLF is kept");
    // A search written with CRLF finds an LF file.
    assert_eq!(replaced("a\nb\n", "a\r\n", "z\r\n"), ("z\nb\n".into(), Rung::Exact));
    // Two places at this rung: refused, even if a looser rung could tell.
    assert_eq!(ambiguous("x  \nx\t\n", "x \n"), (Rung::TrailingWhitespace, vec![1, 2]));
}

#[test]
fn a_uniform_indentation_offset_is_applied_to_the_replacement() {
    let file = "class A:\n    def f(self):\n        return 1\n";
    let (text, rung) = replaced(file, "def f(self):\n    return 1\n", "def f(self):\n    x = 1\n    return x\n");
    assert_eq!(rung, Rung::Indentation);
    assert_eq!(text, "class A:\n    def f(self):\n        x = 1\n        return x\n");
    // Indented too much: the offset comes off.
    let (text, _) = replaced("if x:\n  y()\n", "    if x:\n      y()\n", "    if x:\n      z()\n");
    assert_eq!(text, "if x:\n  z()\n");
    let twice = "a:\n  b\nc:\n    b\n";
    assert_eq!(ambiguous(twice, "b\n"), (Rung::Indentation, vec![2, 4]));
}

#[test]
fn normalised_quotes_dashes_spaces_and_tabs() {
    let file = "\tprint(\"it's ok\")  # a - b\n\treturn 1\n";
    let search = "    print(“it’s ok”)  # a – b\n    return 1\n";
    let (text, rung) = replaced(file, search, "    print(\"fine\")\n        return 2\n");
    assert_eq!(rung, Rung::Normalised);
    assert_eq!(text, "\tprint(\"fine\")\n\t\treturn 2\n", "the file's tabs are kept");
    assert_eq!(ambiguous("  a\u{00A0}b\n\ta\u{2009}b\n", "a b\n"), (Rung::Normalised, vec![1, 2]));
}

#[test]
fn blank_lines_around_the_search_are_dropped() {
    let file = "a\nb\nc\n";
    let (text, rung) = replaced(file, "\nb\n\n", "\nB\n\n");
    assert_eq!(rung, Rung::BlankLines);
    assert_eq!(text, "a\nB\nc\n", "the replacement loses the same blank lines");
    // Blank lines the replacement adds on purpose are kept if the search had none there.
    let (text, _) = replaced(file, "\nb\n", "b\n\n");
    assert_eq!(text, "a\nb\n\nc\n");
    assert_eq!(ambiguous("b\nx\nb\n", "\n\nb\n"), (Rung::BlankLines, vec![1, 3]));
}

#[test]
fn elided_code_between_pieces() {
    let file = "def f(x):\n    a = 1\n    b = 2\n    return a\n\ndef g():\n    return b\n";
    let search = "def f(x):\n    ...\n    return a\n";
    let (text, rung) = replaced(file, search, "def f(x, y):\n    ...\n    return a + y\n");
    assert_eq!(rung, Rung::Elision);
    assert_eq!(text, "def f(x, y):\n    a = 1\n    b = 2\n    return a + y\n\ndef g():\n    return b\n");
    // A commented elision, and a first piece found loosely.
    let (text, _) = replaced(file, "  def f(x):\n  # ...\n  b = 2\n", "  def f(x):\n  # ...\n  b = 3\n");
    assert!(text.contains("    b = 3\n"), "{text}");
    let found = find(file, search).unwrap();
    assert_eq!(found, Found { rung: Rung::Elision, lines: vec![1..=1, 4..=4] });
}

#[test]
fn elision_refusals() {
    let file = "def f():\n    x = 1\n    return x\n\ndef g():\n    return x\n";
    // The second piece occurs twice after the first.
    let miss = replace(file, "def f():\n...\n    return x\n", "def f():\n...\n    return 2\n").unwrap_err();
    assert_eq!(
        miss,
        Miss::ElisionPiece {
            piece: 2,
            pieces: 2,
            miss: Box::new(Miss::Ambiguous { rung: Rung::Exact, lines: vec![3, 6] })
        }
    );
    assert!(miss.to_string().starts_with("piece 2 of 2 of the search"), "{miss}");
    // Pieces out of order: the second is only before the first.
    let miss = replace(file, "def g():\n...\n    x = 1\n", "def g():\n...\n    x = 2\n").unwrap_err();
    assert!(matches!(miss, Miss::ElisionPiece { piece: 2, .. }), "{miss:?}");
    let miss = replace(file, "def f():\n...\n    x = 1\n", "def f():\n    x = 2\n").unwrap_err();
    assert_eq!(miss, Miss::ElisionMismatch { search: 1, replace: 0 });
    let miss = replace(file, "...\n    x = 1\n", "y = 0\n...\n    x = 2\n").unwrap_err();
    assert_eq!(miss, Miss::EmptyPiece { piece: 1, pieces: 2 });
}

#[test]
fn a_replacement_already_there_is_a_no_op() {
    let file = "a\nnew line\nc\n";
    let done = replace(file, "old line\n", "new line\n").unwrap();
    assert!(done.already_applied);
    assert_eq!((done.text.as_str(), done.first_line), (file, 2));
    // Not when the replacement is there twice: then the search is simply not found.
    assert!(matches!(replace("x\nx\n", "y\n", "x\n"), Err(Miss::NotFound { .. })));
    // Nor when it only keeps lines of the search (a deletion): what is left
    // of the search is there whether or not the deletion was made.
    assert!(matches!(replace("a\nc\n", "a\nb\n", "a\n"), Err(Miss::NotFound { .. })));
}

#[test]
fn not_found_quotes_the_closest_lines() {
    let miss = replace(FILE, "def count(items):\n    return len(item)\n", "x\n").unwrap_err();
    assert_eq!(
        miss,
        Miss::NotFound { closest: vec![(5, "def count(items):".into()), (6, "    return len(items)".into())] }
    );
    assert_eq!(miss.to_string(), "the search text is not in the file; the closest lines are 5–6");
    assert_eq!(replace(FILE, "zzz\n", "x").unwrap_err(), Miss::NotFound { closest: vec![] });
}

#[test]
fn fragments_of_lines_as_the_json_format_allows() {
    assert_eq!(replaced(FILE, "sum(items)", "sum(items or [])").0, FILE.replace("sum(items)", "sum(items or [])"));
    assert_eq!(ambiguous(FILE, "return"), (Rung::Exact, vec![2, 6]));
    // A fragment that is a whole line is found as that line first.
    assert_eq!(replaced("x\n  x\n", "x", "y").0, "y\n  x\n");
    // Across lines of a CRLF file, the replacement gets CRLF.
    assert_eq!(replaced("a = 1\r\nb = 2\r\n", "1\r\nb", "3\nc").0, "a = 3\r\nc = 2\r\n");
}

#[test]
fn the_files_last_line_end_is_kept() {
    assert_eq!(replaced("a\nb", "b\n", "c\n").0, "a\nc");
    assert_eq!(replaced("a\nb", "b\n", "").0, "a");
    assert_eq!(replaced("a\nb\n", "b", "c").0, "a\nc\n");
}

#[test]
fn an_empty_search_finds_nothing() {
    assert_eq!(replace(FILE, "", "x"), Err(Miss::EmptySearch));
    assert_eq!(find(FILE, "\n \n"), Err(Miss::EmptySearch));
}

#[test]
fn find_says_where_and_how() {
    assert_eq!(find(FILE, "def count(items):\n").unwrap(), Found { rung: Rung::Exact, lines: vec![5..=5] });
    assert_eq!(find(FILE, "  return len(items)").unwrap(), Found { rung: Rung::Exact, lines: vec![6..=6] });
    assert_eq!(
        find(FILE, "def count(items):  \n    return len(items)\n").unwrap(),
        Found { rung: Rung::TrailingWhitespace, lines: vec![5..=6] }
    );
    assert_eq!(find("a\n\nb\n", "\n\nb\n").unwrap(), Found { rung: Rung::BlankLines, lines: vec![3..=3] });
}

#[test]
fn ambiguity_lists_every_line() {
    let file = "x\n".repeat(25);
    let miss = replace(&file, "x\n", "y\n").unwrap_err();
    let Miss::Ambiguous { lines, .. } = &miss else { panic!("{miss:?}") };
    assert_eq!(lines.len(), 25);
    assert!(miss.to_string().contains("matches 25 places (exactly): lines 1, 2, 3"), "{miss}");
    assert!(miss.to_string().contains("20 and 5 more"), "{miss}");
}

#[test]
fn a_fragment_of_a_line_is_no_proof_that_an_edit_was_made() {
    // `y` occurs inside a line: the edit is not taken as made already.
    let text = "def handle(request):\n    return legacy(request)\n";
    assert!(matches!(replace(text, "not there", "y"), Err(Miss::NotFound { .. })));
    let made = replace(text, "return old(request)", "    return legacy(request)\n").unwrap();
    assert!(made.already_applied, "a whole line still is");
}
