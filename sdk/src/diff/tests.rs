//! Tests of the diff parser on what `git diff` really prints: every kind of
//! file change, hunks with and without counts, quoting, and garbage.

use super::*;

/// `git diff` (2.47) between two commits of a scratch repository: a modified
/// file, a binary file, two hunks, CRLF lines, a deletion, a pure rename with
/// spaces, an empty new file, a new file with a space (git adds a tab after
/// its `+++` name), a rename with an edit, no newline at the end, a removed
/// line that reads `-- a/x`, a mode change and a quoted non-ASCII name.
const MIXED: &str = include_str!("../../testdata/git-diff-mixed.diff");

fn texts<'a>(file: &FileDiff<'a>) -> Vec<(u32, &'a str)> {
    file.added.iter().map(|added| (added.line, added.text)).collect()
}

fn only(diff: &str) -> FileDiff<'_> {
    let mut files = parse(diff);
    assert_eq!(files.len(), 1, "{files:#?}");
    files.remove(0)
}

/// What a test compares of a file: path, old path, status, binary, lines
/// added, lines removed.
type Outline<'a> = (&'a str, Option<&'a str>, FileStatus, bool, usize, usize);

#[test]
fn every_file_of_a_real_diff_is_read() {
    let files = parse(MIXED);
    let summary: Vec<Outline<'_>> = files
        .iter()
        .map(|f| (f.path.as_str(), f.old_path.as_deref(), f.status, f.binary, f.added.len(), f.removed))
        .collect();
    use FileStatus::*;
    assert_eq!(
        summary,
        [
            ("a.txt", None, Modified, false, 2, 1),
            ("b.bin", None, Modified, true, 0, 0),
            ("big.txt", None, Modified, false, 2, 2),
            ("crlf.txt", None, Modified, false, 1, 1),
            ("del.txt", None, Deleted, false, 0, 1),
            ("dir x/new name.txt", Some("old name.txt"), Renamed, false, 0, 0),
            ("empty.txt", None, Added, false, 0, 0),
            ("new file.txt", None, Added, false, 1, 0),
            ("new.txt", Some("old.txt"), Renamed, false, 1, 0),
            ("nonl.txt", None, Modified, false, 1, 1),
            ("q.sql", None, Modified, false, 0, 1),
            ("run.sh", None, Modified, false, 0, 0),
            ("tést.txt", None, Modified, false, 1, 1),
        ]
    );
}

#[test]
fn added_lines_carry_their_new_file_line_numbers() {
    let files = parse(MIXED);
    let file = |path: &str| files.iter().find(|f| f.path == path).unwrap();
    assert_eq!(texts(file("a.txt")), [(2, "TWO"), (4, "four")]);
    assert_eq!(texts(file("big.txt")), [(5, "five"), (25, "twenty-five")]);
    assert_eq!(texts(file("crlf.txt")), [(2, "B")], "the CR goes with the line ending");
    assert_eq!(texts(file("new file.txt")), [(1, "n")]);
    assert_eq!(texts(file("new.txt")), [(6, "extra")]);
    assert_eq!(texts(file("nonl.txt")), [(1, "y")]);
    assert_eq!(texts(file("tést.txt")), [(1, "w")]);
    assert_eq!(file("a.txt").lines_changed(), 3);
    assert_eq!(file("big.txt").lines_changed(), 4);
}

#[test]
fn a_removed_line_that_looks_like_a_header_stays_in_its_hunk() {
    let files = parse(MIXED);
    let sql = files.iter().find(|f| f.path == "q.sql").unwrap();
    assert_eq!((sql.removed, sql.added.len()), (1, 0));
    assert!(!files.iter().any(|f| f.path == "x"), "{files:#?}");
}

#[test]
fn hunks_without_counts_mean_one_line() {
    let diff = "diff --git a/v b/v\n--- a/v\n+++ b/v\n@@ -1 +1 @@\n-1\n+2\n+not in the hunk\n-nor this\n";
    let file = only(diff);
    assert_eq!(texts(&file), [(1, "2")]);
    assert_eq!(file.removed, 1);
}

#[test]
fn no_newline_markers_inside_a_hunk_are_skipped() {
    let diff = "--- a/v\n+++ b/v\n@@ -1,2 +1,2 @@\n keep\n-old\n\\ No newline at end of file\n+new\n\\ No newline at end of file\n";
    let file = only(diff);
    assert_eq!(texts(&file), [(2, "new")]);
    assert_eq!(file.removed, 1);
}

#[test]
fn new_deleted_and_renamed_paths() {
    let added =
        only("diff --git a/n.py b/n.py\nnew file mode 100644\n--- /dev/null\n+++ b/n.py\n@@ -0,0 +1,2 @@\n+a\n+b\n");
    assert_eq!(
        (added.path.as_str(), added.status, texts(&added)),
        ("n.py", FileStatus::Added, vec![(1, "a"), (2, "b")])
    );
    let deleted = only(
        "diff --git a/d.py b/d.py\ndeleted file mode 100644\n--- a/d.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n",
    );
    assert_eq!((deleted.path.as_str(), deleted.status, deleted.removed), ("d.py", FileStatus::Deleted, 2));
    let renamed = only("diff --git a/x y/a b/x y/b\nsimilarity index 100%\nrename from x y/a\nrename to x y/b\n");
    assert_eq!(renamed.path, "x y/b");
    assert_eq!(renamed.old_path.as_deref(), Some("x y/a"));
    assert_eq!(renamed.paths().collect::<Vec<_>>(), ["x y/b", "x y/a"]);
    let copied = only("diff --git a/a.rs b/b.rs\nsimilarity index 90%\ncopy from a.rs\ncopy to b.rs\n");
    assert_eq!(
        (copied.path.as_str(), copied.old_path.as_deref(), copied.status),
        ("b.rs", Some("a.rs"), FileStatus::Copied)
    );
}

#[test]
fn quoted_names_are_unquoted() {
    let renamed = only(
        "diff --git \"a/t\\303\\251st\" \"b/q\\\"uote\\tx\"\nsimilarity index 100%\nrename from \"t\\303\\251st\"\nrename to \"q\\\"uote\\tx\"\n",
    );
    assert_eq!(renamed.path, "q\"uote\tx");
    assert_eq!(renamed.old_path.as_deref(), Some("tést"));
    // One side quoted, the other not.
    let mixed = only("diff --git a/plain \"b/t\\303\\251st\"\nsimilarity index 100%\n");
    assert_eq!(mixed.path, "tést");
    let lone = only("diff --git \"a/\\377\" \"b/\\377\"\nnew file mode 100644\n");
    assert_eq!(lone.path, "\u{fffd}", "invalid UTF-8 is replaced");
}

#[test]
fn header_names_with_spaces_split_in_the_middle() {
    let file = only("diff --git a/my b/file b/my b/file\nnew file mode 100644\n");
    assert_eq!(file.path, "my b/file");
    let no_prefix = only("diff --git my file my file\nnew file mode 100644\n");
    assert_eq!(no_prefix.path, "my file");
}

#[test]
fn git_binary_patches_are_binary() {
    let diff = "diff --git a/b.bin b/b.bin\nindex 88768ef..3e3315e 100644\nGIT binary patch\nliteral 5\nMcmZQzO3KUw00MIXJOBUy\n\nliteral 5\nMcmZQzOv=my00M6TI{*Lx\n\n";
    let file = only(diff);
    assert!(file.binary);
    assert_eq!(file.lines_changed(), 0);
}

#[test]
fn plain_unified_diffs_are_read() {
    let diff = "--- a.orig\t2024-05-01 10:00:00\n+++ a\t2024-05-01 10:01:00\n@@ -1 +1,2 @@\n x\n+y\n--- /dev/null\n+++ b/new\n@@ -0,0 +1 @@\n+z\n";
    let files = parse(diff);
    assert_eq!(files.len(), 2, "{files:#?}");
    assert_eq!((files[0].path.as_str(), texts(&files[0])), ("a", vec![(2, "y")]));
    assert_eq!((files[1].path.as_str(), files[1].status, texts(&files[1])), ("new", FileStatus::Added, vec![(1, "z")]));
}

#[test]
fn a_hunk_ends_when_its_counts_are_used_up() {
    // The next file's `---` line would be a removed line if the hunk ran on.
    let diff = "--- a/x\n+++ b/x\n@@ -1,2 +1 @@\n-gone\n kept\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-1\n+2\n";
    let files = parse(diff);
    let outline: Vec<(&str, usize, usize)> =
        files.iter().map(|f| (f.path.as_str(), f.added.len(), f.removed)).collect();
    assert_eq!(outline, [("x", 0, 1), ("y", 1, 1)]);
}

#[test]
fn a_second_header_pair_before_any_hunk_is_another_file() {
    let files = parse("--- a/x\n+++ b/x\n--- a/y\n+++ b/y\n@@ -0,0 +1 @@\n+z\n");
    let outline: Vec<(&str, usize)> = files.iter().map(|f| (f.path.as_str(), f.added.len())).collect();
    assert_eq!(outline, [("x", 0), ("y", 1)]);
}

#[test]
fn suppressed_blank_context_lines_count() {
    let diff = "--- a/v\n+++ b/v\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n";
    assert_eq!(texts(&only(diff)), [(3, "c")]);
}

#[test]
fn garbage_is_skipped_and_never_panics() {
    assert!(parse("").is_empty());
    assert!(parse("### step s1\nI changed the parser.\n+ not a diff\n@@ -1 +1 @@\n").is_empty());
    let notes = format!("### step s1\n{MIXED}\n### step s2\nnothing\n");
    assert_eq!(parse(&notes).len(), parse(MIXED).len());
    let weird = [
        "diff --git ",
        "diff --git \"a/unterminated",
        "diff --git \"a/\\",
        "diff --git a/x b/x\n@@ -1,x +1 @@\n+no hunk\n",
        "diff --git a/x b/x\n@@ -0,0 +4294967295,3 @@\n+a\n+b\n+c\n",
        "diff --git a/x b/x\n@@ -1 +1 @@\n+é\n+é\n",
        "diff --git a/é b/é\n@@ -1,2 +1,2 @@\néé\n",
        "--- a\n+++ b\n",
        "+++ b/x\n--- a/x\n",
        // Found by `cargo fuzz run unified_diff`: no `a/` and no ` b/` were
        // taken for the same name, cut inside a character.
        "diff --git #\u{453}",
    ];
    for diff in weird {
        let _ = parse(diff);
    }
    let odd = only("diff --git #\u{453}\n@@ -1 +1 @@\n+x\n");
    assert_eq!((odd.path.as_str(), texts(&odd)), ("#\u{453}", vec![(1, "x")]));
    let huge = only("diff --git a/x b/x\n@@ -0,0 +4294967295,3 @@\n+a\n+b\n+c\n");
    assert_eq!(huge.added.iter().map(|a| a.line).collect::<Vec<_>>(), [u32::MAX; 3]);
}
