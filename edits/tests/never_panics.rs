//! Whatever a model sends, reading it and applying it never panics: a
//! corpus of replies in every format, truncated at every character, with
//! lines dropped, doubled and swapped, and with format tokens spliced in at
//! random places, is parsed in every format and applied to a small fake
//! repository; the feedback stays bounded. The ladder is fed mutated
//! pieces of real files the same way. (A cheap stand-in for `cargo fuzz`,
//! run by `cargo test`.)

use orch_edits::feedback::MAX_FEEDBACK_BYTES;
use orch_edits::{Edit, Format, apply_all, ladder, parse};

const CORPUS: [&str; 8] = [
    "Round the total.\n\nsrc/app.py\n```python\n<<<<<<< SEARCH\ndef total(items):\n    return sum(items)\n=======\n\
     def total(items):\n    return round(sum(items), 2)\n>>>>>>> REPLACE\n```\n\nDELETE old.py\nRENAME a.py -> b.py\n",
    "<think>\nplan\n</think>\nsrc/app.py\n<<<<<<< SEARCH\n\n...\n    return sum(items)\n=======\n...\n    return 0\n\
     >>>>>>> REPLACE\n<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n",
    "Whole.\n\nsrc/app.py\n```python\ndef total(items):\n\treturn 1\n```\n```md README.md\n# T\n```sh\nmake\n```\n```\n",
    "Fix.\n\n```\n*** Begin Patch\n*** Add File: src/util.py\n+def f():\n+    return 1\n*** Update File: src/app.py\n\
     *** Move to: src/main.py\n@@ def total(items):\n-    return sum(items)\n+    return 1\n*** End of File\n\
     *** Delete File: old.py\n*** End Patch\n```\n",
    "*** Begin Patch\n*** Update File: src/app.py\n@@ -1,2 +1,2 @@ def total(items):\n def total(items):\n\n-x\n+y\n\
     *** End Patch",
    "{\"summary\": \"s\", \"edits\": [{\"op\": \"replace\", \"path\": \"src/app.py\", \"search\": \"sum(items)\", \
     \"replace\": \"0\"}, {\"op\": \"rename\", \"from\": \"a.py\", \"to\": \"c.py\"}, {\"op\": \"write\", \"path\": \
     \"n.py\", \"content\": \"x\"}]}",
    "Here:\r\n**`src/app.py`**\r\n````\r\n<<<<<<< SEARCH\r\n    return “sum(items)”\r\n=======\r\n    return 2\r\n\
     >>>>>>> REPLACE\r\n````\r\n",
    "### src/crlf.txt\n<<<<<<< SEARCH\nb\n=======\nc\n>>>>>>> REPLACE\n\n### src/tabs.go\n<<<<<<< SEARCH\n    x := 1\n\
     =======\n    x := 2\n>>>>>>> REPLACE\n",
];

const TOKENS: [&str; 40] = [
    "<<<<<<< SEARCH\n",
    "=======\n",
    ">>>>>>> REPLACE\n",
    "<<<<<<<<< SEARCH>\n",
    "```\n",
    "```python src/x.py\n",
    "````",
    "~~~\n",
    "*** Begin Patch\n",
    "*** End Patch\n",
    "@@ ",
    "@@ -1,2 +1,2 @@\n",
    "*** Update File: src/app.py\n",
    "*** Add File: ",
    "*** Move to: b.py\n",
    "*** Delete File: a.py\n",
    "*** End of File\n",
    "<think>",
    "</think>",
    "<thinking>\n",
    "{",
    "}",
    "\"",
    "\r\n",
    "\r",
    "é",
    "…",
    "\u{00A0}",
    "...\n",
    "    # ...\n",
    "DELETE src/app.py\n",
    "RENAME src/app.py -> ",
    "\t",
    "+",
    "-",
    " ",
    "\n",
    "\0",
    "src/app.py\n",
    "\\",
];

/// The fake repository: CRLF, no final newline, tabs, non-ASCII.
fn read(path: &str) -> Result<Option<String>, String> {
    Ok(match path {
        "src/app.py" => {
            Some("def total(items):\n    return sum(items)\n\n\ndef count(items):\n    return len(items)\n")
        }
        "src/crlf.txt" => Some("a\r\nb\r\nc"),
        "src/tabs.go" => Some("func f() {\n\tx := 1\n}\n"),
        "a.py" => Some("é = “1”\n"),
        "old.py" => Some(""),
        "README.md" => Some("# T\n"),
        "secret" => return Err("refused".into()),
        _ => None,
    }
    .map(str::to_owned))
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// Parses `reply` in every format and applies what parses.
fn exercise(reply: &str) {
    for format in Format::ALL {
        let Ok(change) = parse(format, reply) else { continue };
        assert!(!change.edits.is_empty(), "{format}: a change without edits parsed from {reply:?}");
        assert!(change.summary.len() <= 503, "{format}: summary too long");
        match apply_all(&change.edits, read) {
            Ok(applied) => {
                let named = |path: &str| {
                    change.edits.iter().any(|edit| match edit {
                        Edit::Rename { from, to } => key(from) == path || key(to) == path,
                        other => key(other.path()) == path,
                    })
                };
                assert!(applied.files.keys().all(|path| named(path)), "a file no edit names changed");
            }
            Err(rejected) => assert!(rejected.feedback(format).len() <= MAX_FEEDBACK_BYTES),
        }
    }
}

/// A path as `apply_all` keys it.
fn key(path: &str) -> String {
    let mut key = path.trim().to_owned();
    loop {
        let before = key.len();
        key = key.replace("//", "/").replace("/./", "/");
        while let Some(rest) = key.strip_prefix("./") {
            key = rest.to_owned();
        }
        if key.len() == before {
            return key;
        }
    }
}

fn boundaries(text: &str) -> impl Iterator<Item = usize> + '_ {
    (0..=text.len()).filter(|i| text.is_char_boundary(*i))
}

#[test]
fn truncated_replies() {
    for reply in CORPUS {
        for end in boundaries(reply) {
            exercise(&reply[..end]);
        }
    }
}

#[test]
fn lines_dropped_doubled_and_swapped() {
    for reply in CORPUS {
        let lines: Vec<&str> = reply.split('\n').collect();
        for i in 0..lines.len() {
            let mut dropped = lines.clone();
            dropped.remove(i);
            exercise(&dropped.join("\n"));
            let mut doubled = lines.clone();
            doubled.insert(i, lines[i]);
            exercise(&doubled.join("\n"));
            if i + 1 < lines.len() {
                let mut swapped = lines.clone();
                swapped.swap(i, i + 1);
                exercise(&swapped.join("\n"));
            }
        }
    }
}

#[test]
fn tokens_spliced_in() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..10_000 {
        let mut reply = CORPUS[round % CORPUS.len()].to_owned();
        for _ in 0..1 + rng.below(4) {
            let at: Vec<usize> = boundaries(&reply).collect();
            let at = at[rng.below(at.len())];
            let token = TOKENS[rng.below(TOKENS.len())];
            if rng.below(3) == 0 {
                // Replace the character there instead of inserting before it.
                let end = reply[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                reply.replace_range(at..end, token);
            } else {
                reply.insert_str(at, token);
            }
        }
        exercise(&reply);
    }
}

#[test]
fn the_ladder_on_mutated_pieces_of_files() {
    let files = [
        read("src/app.py").unwrap().unwrap(),
        read("src/crlf.txt").unwrap().unwrap(),
        read("src/tabs.go").unwrap().unwrap(),
        read("a.py").unwrap().unwrap(),
        "x\n\n\nx\n  x\n\tx\n...\n".to_owned(),
    ];
    let mut rng = Rng(42);
    for round in 0..4000 {
        let file = &files[round % files.len()];
        let bounds: Vec<usize> = boundaries(file).collect();
        let (a, b) = (bounds[rng.below(bounds.len())], bounds[rng.below(bounds.len())]);
        let mut search = file[a.min(b)..a.max(b)].to_owned();
        let mut replacement = search.clone();
        for text in [&mut search, &mut replacement] {
            for _ in 0..rng.below(3) {
                let at: Vec<usize> = boundaries(text).collect();
                let at = at[rng.below(at.len())];
                text.insert_str(at, TOKENS[rng.below(TOKENS.len())]);
            }
        }
        let _ = ladder::find(file, &search);
        if let Ok(done) = ladder::replace(file, &search, &replacement) {
            if done.already_applied {
                assert_eq!(&done.text, file);
            }
            assert!(done.first_line >= 1);
        }
    }
}

/// A long reply (every corpus reply many times over, about 1 MB) parses in
/// every format without work growing faster than its length: a quadratic
/// step would make this test crawl.
#[test]
fn a_long_reply() {
    let reply = CORPUS.concat().repeat(400);
    for format in Format::ALL {
        let _ = parse(format, &reply);
    }
    let blank_lines =
        format!("{}</think>\nsrc/app.py\n<<<<<<< SEARCH\n{}", "\n".repeat(200_000), "x\n".repeat(200_000));
    for format in Format::ALL {
        let _ = parse(format, &blank_lines);
    }
}
