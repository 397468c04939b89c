//! A model's reply read as a change (in any edit format, chosen by the first
//! byte) and applied to a worktree: parsing never
//! panics, and whatever the edits say, nothing is written outside the
//! worktree (a sibling directory stays empty).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use orch_host::workspace::Format;
use orch_host::workspace::edits::apply;

struct Dirs {
    _base: tempfile::TempDir,
    root: PathBuf,
    sibling: PathBuf,
}

fn dirs() -> &'static Dirs {
    static DIRS: OnceLock<Dirs> = OnceLock::new();
    DIRS.get_or_init(|| {
        let base = tempfile::tempdir().expect("temp dir");
        let root = base.path().join("worktree");
        let sibling = base.path().join("sibling");
        std::fs::create_dir_all(&sibling).expect("sibling");
        Dirs { root, sibling, _base: base }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else { return };
    let Ok(reply) = std::str::from_utf8(data) else { return };
    let format = Format::ALL[usize::from(which) % Format::ALL.len()];
    let Ok(change) = orch_edits::parse(format, reply) else { return };
    let Dirs { root, sibling, .. } = dirs();
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root.join("src")).expect("worktree");
    std::fs::write(root.join("src/app.py"), "def f():\n    return 1\n").expect("a file");
    let _ = apply(root, &change.edits);
    assert!(std::fs::read_dir(sibling).expect("sibling").next().is_none(), "an edit wrote outside the worktree");
});
