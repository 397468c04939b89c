//! Edits worked out in order over a fake file system: later edits see
//! earlier ones, every edit is tried, and only changed files are returned.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::*;

/// A read closure over `files`, counting reads per path.
struct Fake {
    files: BTreeMap<&'static str, &'static str>,
    reads: RefCell<Vec<String>>,
}

impl Fake {
    fn new(files: &[(&'static str, &'static str)]) -> Self {
        Self { files: files.iter().copied().collect(), reads: RefCell::default() }
    }

    fn apply(&self, edits: &[Edit]) -> Result<Applied, Rejected> {
        apply_all(edits, |path| {
            self.reads.borrow_mut().push(path.to_owned());
            if path.starts_with("secret") {
                return Err("may not be read".into());
            }
            Ok(self.files.get(path).map(|c| (*c).to_owned()))
        })
    }
}

fn replace(path: &str, search: &str, replace: &str) -> Edit {
    Edit::Replace { path: path.into(), search: search.into(), replace: replace.into() }
}

fn write(path: &str, content: &str) -> Edit {
    Edit::Write { path: path.into(), content: content.into() }
}

fn problems(rejected: &Rejected) -> Vec<(usize, String)> {
    rejected.failures().map(|o| (o.edit, o.problem.as_ref().unwrap().to_string())).collect()
}

#[test]
fn later_edits_see_earlier_ones() {
    let fake = Fake::new(&[("a.py", "x = 1\ny = 2\n"), ("old.py", "gone\n")]);
    let edits = [
        replace("a.py", "x = 1\n", "x = 10\n"),
        replace("./a.py", "x = 10\n", "x = 100\n"),
        Edit::Rename { from: "a.py".into(), to: "pkg/a.py".into() },
        replace("pkg/a.py", "y = 2\n", "y = 20\n"),
        write("new.py", "print()\n"),
        replace("new.py", "print()\n", "print(1)\n"),
        Edit::Delete { path: "old.py".into() },
    ];
    let applied = fake.apply(&edits).unwrap();
    let expected: BTreeMap<String, Option<String>> =
        [("a.py", None), ("new.py", Some("print(1)\n")), ("old.py", None), ("pkg/a.py", Some("x = 100\ny = 20\n"))]
            .into_iter()
            .map(|(p, c)| (p.to_owned(), c.map(str::to_owned)))
            .collect();
    assert_eq!(applied.files, expected);
    assert!(applied.warnings.is_empty(), "{:?}", applied.warnings);
    // Each path is read once, the written and renamed-to ones included.
    assert_eq!(*fake.reads.borrow(), ["a.py", "pkg/a.py", "new.py", "old.py"]);
}

#[test]
fn every_edit_is_tried_and_every_failure_reported() {
    let fake = Fake::new(&[("a.py", "a\nb\na\n"), ("b.py", "b\n"), ("c.py", "c\n")]);
    let edits = [
        replace("a.py", "a\n", "z\n"),
        replace("b.py", "b\n", "bb\n"),
        Edit::Delete { path: "c.py".into() },
        replace("c.py", "c\n", "d\n"),
        Edit::Rename { from: "b.py".into(), to: "a.py".into() },
        Edit::Rename { from: "b.py".into(), to: "./b.py".into() },
        replace("nope.py", "x\n", "y\n"),
        write("secret.key", "x"),
        Edit::Delete { path: "c.py".into() },
    ];
    let rejected = fake.apply(&edits).unwrap_err();
    assert_eq!(
        problems(&rejected),
        [
            (1, "in a.py, the search text matches 2 places (exactly): lines 1 and 3; include more of the unchanged lines around the change so it matches one".into()),
            (4, "c.py does not exist (edit 3 deleted it)".into()),
            (5, "a.py exists already; delete it first if it should be replaced".into()),
            (6, "it renames b.py to itself".into()),
            (7, "nope.py does not exist".into()),
            (8, "secret.key: may not be read".into()),
            (9, "c.py does not exist (edit 3 deleted it)".into()),
        ]
    );
    let fine: Vec<usize> = rejected.outcomes.iter().filter(|o| o.problem.is_none()).map(|o| o.edit).collect();
    assert_eq!(fine, [2, 3]);
    assert_eq!(rejected.outcomes[4].after_failed, None, "edit 1 would not have made a.py go away");
    assert_eq!(rejected.outcomes[3].after_failed, None, "edit 3 did not fail");
    assert_eq!(rejected.outcomes[0].starting.as_deref(), Some("a"));
}

#[test]
fn an_empty_search_creates_a_file_only_where_there_is_none() {
    let fake = Fake::new(&[("a.py", "x\n"), ("empty.py", "")]);
    let applied = fake
        .apply(&[
            replace("new.py", "", "hello\n"),
            replace("new.py", "hello\n", "hi\n"),
            replace("empty.py", "\n", "y\n"),
        ])
        .unwrap();
    assert_eq!(applied.files["new.py"].as_deref(), Some("hi\n"));
    assert_eq!(applied.files["empty.py"].as_deref(), Some("y\n"));
    let rejected = fake.apply(&[replace("a.py", "", "y\n")]).unwrap_err();
    assert_eq!(
        problems(&rejected),
        [(1, "in a.py, the search text is empty but the file exists and is not empty: give the lines to replace (or write the whole file)".into())]
    );
}

#[test]
fn loose_matches_and_no_ops_are_warnings() {
    let fake = Fake::new(&[("a.py", "if x:\n    y()  \n"), ("b.py", "done\n")]);
    let applied = fake.apply(&[replace("a.py", "y()\n", "z()\n"), replace("b.py", "todo\n", "done\n")]).unwrap();
    assert_eq!(applied.files.keys().collect::<Vec<_>>(), ["a.py"], "b.py did not change");
    let warnings: Vec<String> = applied.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "edit 1 (replace in a.py): the search text was found with its indentation shifted uniformly at line 2",
            "edit 2 (replace in b.py): the search text is not in b.py but the replacement already is (line 1), so nothing changed",
        ]
    );
}

#[test]
fn a_file_written_back_as_it_was_is_not_listed() {
    let fake = Fake::new(&[("a.py", "x\n")]);
    let applied = fake.apply(&[write("a.py", "y\n"), write("a.py", "x\n")]).unwrap();
    assert!(applied.files.is_empty());
}

#[test]
fn a_failure_that_may_follow_from_an_earlier_one_says_so() {
    let fake = Fake::new(&[("a.py", "x\n")]);
    let edits = [
        Edit::Rename { from: "b.py".into(), to: "c.py".into() },
        replace("c.py", "x\n", "y\n"),
        replace("a.py", "q\n", "new\n"),
        replace("a.py", "new\n", "newer\n"),
        replace("a.py", "other\n", "z\n"),
    ];
    let rejected = fake.apply(&edits).unwrap_err();
    let causes: Vec<Option<usize>> = rejected.outcomes.iter().map(|o| o.after_failed).collect();
    assert_eq!(causes, [None, Some(1), None, Some(3), None]);
}

#[test]
fn two_spellings_of_a_path_are_one_file() {
    let fake = Fake::new(&[("pkg/a.py", "x\n")]);
    let applied = fake.apply(&[replace(".//pkg/./a.py", "x\n", "y\n"), replace("pkg//a.py", "y\n", "z\n")]).unwrap();
    assert_eq!(applied.files["pkg/a.py"].as_deref(), Some("z\n"));
    assert_eq!(*fake.reads.borrow(), ["pkg/a.py"]);
}
