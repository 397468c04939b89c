//! The message for the model: only failed edits, each with its rule and
//! the closest lines, which edits applied, and a bounded size.

use crate::{Edit, Format, apply_all};

fn replace(path: &str, search: &str, replace: &str) -> Edit {
    Edit::Replace { path: path.into(), search: search.into(), replace: replace.into() }
}

const APP: &str = "def total(items):\n    return sum(items)\n\n\ndef count(items):\n    return len(items)\n";

fn read(path: &str) -> Result<Option<String>, String> {
    Ok((path == "src/app.py").then(|| APP.to_owned()))
}

#[test]
fn only_failures_with_their_closest_lines() {
    let edits = [
        replace("src/app.py", "def total(items):\n    return sum(items)\n", "def total(items):\n    return 0\n"),
        replace("src/app.py", "def count(items):\n    return len(item)\n", "x\n"),
        replace("src/app.py", "    return", "    yield"),
        Edit::Delete { path: "src/gone.py".into() },
    ];
    let rejected = apply_all(&edits, read).unwrap_err();
    let message = rejected.feedback(Format::SearchReplace);
    assert_eq!(
        message,
        "3 of 4 edits could not be applied, so no file was changed. Fix the edits listed below and send the whole \
         change again, every edit included: the files are still as they were before your reply. Edit 1 applied \
         cleanly: send it again unchanged.

Edit 2 (replace in src/app.py, the one whose search starts `def count(items):`): in src/app.py, the search text is \
         not in the file; the closest lines are 5–6.
The closest lines of src/app.py as it is now:
5 | def count(items):
6 |     return len(items)
Copy the lines to replace exactly as they are in the file now (after the earlier edits of this change), with their \
         indentation.

Edit 3 (replace in src/app.py, the one whose search starts `return`): in src/app.py, the search text matches 2 \
         places (exactly): lines 2 and 6; include more of the unchanged lines around the change so it matches one.

Edit 4 (delete src/gone.py): src/gone.py does not exist.

Reply again with the whole change for this step: a short summary, then every edit as SEARCH/REPLACE blocks after \
         the file's path (and DELETE/RENAME lines), as described at the start."
            .replace("\\\n         ", "")
    );
}

#[test]
fn a_single_edit() {
    let rejected = apply_all(&[Edit::Delete { path: "x".into() }], read).unwrap_err();
    assert!(rejected.to_string().starts_with("The edit could not be applied, so no file was changed."));
}

#[test]
fn the_message_is_bounded() {
    let line = "é".repeat(300);
    let file = format!("{line}\n").repeat(40);
    let edits: Vec<Edit> = (0..200).map(|i| replace("big.txt", &format!("{line}{i}\n{line}\n"), "x\n")).collect();
    let rejected = apply_all(&edits, |_| Ok(Some(file.clone()))).unwrap_err();
    let message = rejected.feedback(Format::Patch);
    assert!(message.len() <= crate::feedback::MAX_FEEDBACK_BYTES, "{}", message.len());
    assert!(message.contains("more failed edit(s) not shown"), "{message}");
    assert!(message.ends_with("as described at the start."), "the reminder survives the cut");
}
