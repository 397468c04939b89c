//! Replies written the way models write them, read and applied to a small
//! repository end to end: the files that come out, and the warnings.

use std::collections::BTreeMap;

use orch_edits::{Applied, Format, apply_all, parse};

const APP: &str = "import os\n\n\nclass Cart:\n    def __init__(self):\n        self.items = []\n\n    def total(self):\n        \
                   return sum(i.price for i in self.items)\n\n    def count(self):\n        return len(self.items)\n";
const UTIL: &str = "def clamp(x, lo, hi):\n\treturn max(lo, min(x, hi))\n";

fn repository() -> BTreeMap<&'static str, &'static str> {
    [
        ("src/app.py", APP),
        ("src/util.py", UTIL),
        ("src/legacy.py", "OLD = 1\n"),
        ("README.md", "# Demo\r\n\r\nRun it.\r\n"),
    ]
    .into_iter()
    .collect()
}

fn run(format: Format, reply: &str) -> (String, Applied) {
    let repo = repository();
    let change = parse(format, reply).unwrap_or_else(|e| panic!("{e}"));
    let applied = apply_all(&change.edits, |path| Ok(repo.get(path).map(|c| (*c).to_owned())))
        .unwrap_or_else(|rejected| panic!("{}", rejected.feedback(format)));
    (change.summary, applied)
}

fn file<'a>(applied: &'a Applied, path: &str) -> Option<&'a str> {
    applied.files.get(path).and_then(|c| c.as_deref())
}

#[test]
fn search_replace_with_headings_an_indentation_slip_and_a_new_file() {
    let reply = "I'll round the cart total and add a currency helper.\n\n### `src/app.py`\n\n```python\n<<<<<<< SEARCH\n\
                 import os\n=======\nimport os\n\nfrom money import round2\n>>>>>>> REPLACE\n```\n\n```python\n\
                 <<<<<<< SEARCH\ndef total(self):\n    return sum(i.price for i in self.items)\n=======\ndef total(self):\n    \
                 return round2(sum(i.price for i in self.items))\n>>>>>>> REPLACE\n```\n\n### `src/money.py` (new file)\n\n\
                 ```python\n<<<<<<< SEARCH\n=======\ndef round2(x):\n    return round(x, 2)\n>>>>>>> REPLACE\n```\n\n\
                 Let me know if you want tests too.";
    let (summary, applied) = run(Format::SearchReplace, reply);
    assert_eq!(summary, "I'll round the cart total and add a currency helper.");
    let app = file(&applied, "src/app.py").unwrap();
    assert!(app.starts_with("import os\n\nfrom money import round2\n\n\nclass Cart:"), "{app}");
    assert!(app.contains("    def total(self):\n        return round2(sum(i.price for i in self.items))\n"), "{app}");
    assert_eq!(file(&applied, "src/money.py"), Some("def round2(x):\n    return round(x, 2)\n"));
    assert_eq!(applied.warnings.len(), 1, "the indentation slip: {:?}", applied.warnings);
}

#[test]
fn search_replace_after_reasoning_with_paths_inside_the_fences() {
    let reply = "<think>\nThe user wants count() to ignore None.\nI'll write:\n<<<<<<< SEARCH\nreturn len\n=======\n\
                 </think>\n\n```python\nsrc/app.py\n<<<<<<< SEARCH\n        return len(self.items)\n=======\n        \
                 return len([i for i in self.items if i is not None])\n>>>>>>> REPLACE\n```\n```\nDELETE src/legacy.py\n```";
    let (summary, applied) = run(Format::SearchReplace, reply);
    assert_eq!(summary, "");
    assert!(file(&applied, "src/app.py").unwrap().contains("if i is not None])\n"));
    assert_eq!(applied.files.get("src/legacy.py"), Some(&None));
}

#[test]
fn whole_files_from_a_small_model() {
    let reply = "Here are the updated files:\n\n**src/util.py**\n```python\ndef clamp(x, lo, hi):\n    if lo > hi:\n        \
                 lo, hi = hi, lo\n    return max(lo, min(x, hi))\n```\n\nRENAME src/legacy.py -> src/old_constants.py\n";
    let (summary, applied) = run(Format::Whole, reply);
    assert_eq!(summary, "Here are the updated files:");
    assert!(file(&applied, "src/util.py").unwrap().contains("lo, hi = hi, lo"));
    assert_eq!(file(&applied, "src/old_constants.py"), Some("OLD = 1\n"));
    assert_eq!(applied.files.get("src/legacy.py"), Some(&None));
}

#[test]
fn a_codex_patch_with_a_move_an_anchor_and_crlf() {
    let reply = "Count items and move the module.\r\n\r\n```\r\n*** Begin Patch\r\n*** Update File: src/app.py\r\n\
                 *** Move to: src/cart.py\r\n@@ def count(self):\r\n-        return len(self.items)\r\n+        \
                 return sum(1 for _ in self.items)\r\n*** Update File: README.md\r\n@@\r\n # Demo\r\n \r\n-Run it.\r\n+Run \
                 it with `python -m cart`.\r\n*** End Patch\r\n```\r\n";
    let (summary, applied) = run(Format::Patch, reply);
    assert_eq!(summary, "Count items and move the module.");
    assert_eq!(applied.files.get("src/app.py"), Some(&None));
    assert!(file(&applied, "src/cart.py").unwrap().ends_with("        return sum(1 for _ in self.items)\n"));
    assert_eq!(file(&applied, "README.md"), Some("# Demo\r\n\r\nRun it with `python -m cart`.\r\n"), "CRLF kept");
}

#[test]
fn json_as_before() {
    let reply = "```json\n{\"summary\": \"tabs\", \"edits\": [{\"op\": \"replace\", \"path\": \"src/util.py\", \
                 \"search\": \"min(x, hi))\", \"replace\": \"min(x, hi))  # clamped\"}]}\n```";
    let (summary, applied) = run(Format::Json, reply);
    assert_eq!(summary, "tabs");
    assert_eq!(file(&applied, "src/util.py"), Some("def clamp(x, lo, hi):\n\treturn max(lo, min(x, hi))  # clamped\n"));
}

#[test]
fn a_failed_reply_gets_one_message_to_act_on() {
    let repo = repository();
    let reply = "src/app.py\n<<<<<<< SEARCH\n    def count(self):\n        return len(self.item)\n=======\n    def \
                 count(self):\n        return 0\n>>>>>>> REPLACE\nsrc/util.py\n<<<<<<< SEARCH\n\treturn max(lo, min(x, hi))\n=======\n\tpass\n\
                 >>>>>>> REPLACE\n";
    let change = parse(Format::SearchReplace, reply).unwrap();
    let rejected = apply_all(&change.edits, |path| Ok(repo.get(path).map(|c| (*c).to_owned()))).unwrap_err();
    let message = rejected.feedback(Format::SearchReplace);
    assert!(message.starts_with("1 of 2 edits could not be applied"), "{message}");
    assert!(message.contains("11 |     def count(self):\n12 |         return len(self.items)"), "{message}");
    assert!(message.contains("Edit 2 applied cleanly"), "{message}");
    assert!(message.ends_with("as described at the start."), "{message}");
}
