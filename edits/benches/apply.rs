//! What reading and applying a reply costs: a search/replace reply of about
//! 200 lines (21 blocks over three files of 300 lines, 15 of them
//! found only by a loose rung: trailing whitespace, shifted indentation,
//! typographic quotes, blank lines around, `...` elision), parsed alone and
//! parsed then worked out with `apply_all`.
//!
//! Run with `cargo bench -p orch-edits`.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use orch_edits::{Format, apply_all, parse};

/// A Python file of 60 five-line functions.
fn file(k: usize) -> String {
    (0..60)
        .map(|i| {
            format!("def func_{k}_{i}(x):\n    \"\"\"Doc {i}.\"\"\"\n    value = x * {i}\n    return value + {i}\n\n")
        })
        .collect()
}

/// Seven blocks for file `k`: one per way of writing the search text,
/// and a whole function.
fn blocks(k: usize) -> String {
    let exact = |i: usize| format!("    value = x * {i}\n    return value + {i}\n");
    let mut out = format!("src/mod_{k}.py\n```python\n");
    let mut block = |search: String, replace: String| {
        out.push_str(&format!("<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"));
    };
    // Exact.
    block(exact(3), "    value = x * 3\n    return value - 3\n".into());
    // Trailing whitespace.
    block(
        format!("def func_{k}_10(x):  \n    \"\"\"Doc 10.\"\"\" \n"),
        format!("def func_{k}_10(x, y):\n    \"\"\"Doc ten.\"\"\"\n"),
    );
    // Indentation: written without the function's indentation.
    block(
        "value = x * 20\nreturn value + 20\n".into(),
        "value = x * 20\nif value > 100:\n    value = 100\nreturn value + 20\n".into(),
    );
    // Typographic quotes.
    block("    “““Doc 30.”””\n    value = x * 30\n".into(), "    \"\"\"Doc thirty.\"\"\"\n    value = x * 30\n".into());
    // Blank lines around.
    block(format!("\n{}\n", exact(40)), "\n    value = x * 40 + 1\n    return value + 40\n\n".into());
    // Elision.
    block(
        format!("def func_{k}_50(x):\n    ...\n    return value + 50\n"),
        format!("def func_{k}_50(x):\n    ...\n    return value + 51\n"),
    );
    // A whole function, exactly.
    block(
        format!("def func_{k}_55(x):\n    \"\"\"Doc 55.\"\"\"\n    value = x * 55\n    return value + 55\n"),
        format!("def func_{k}_55(x):\n    \"\"\"Doc 55.\"\"\"\n    return x * 55 + 55\n"),
    );
    out.push_str("```\n\n");
    out
}

fn bench(c: &mut Criterion) {
    let files: HashMap<String, String> = (0..3).map(|k| (format!("src/mod_{k}.py"), file(k))).collect();
    let reply = format!(
        "<think>\nThe functions need clamping.\n</think>\nClamp the values and rename a few things.\n\n{}",
        (0..3).map(blocks).collect::<String>()
    );
    let lines = reply.lines().count();
    let change = parse(Format::SearchReplace, &reply).expect("the reply parses");
    assert_eq!(change.edits.len(), 21);
    let read = |path: &str| Ok(files.get(path).cloned());
    let applied = apply_all(&change.edits, read).unwrap_or_else(|r| panic!("{}", r.feedback(Format::SearchReplace)));
    assert_eq!(applied.warnings.len(), 15, "{:#?}", applied.warnings);

    let mut group = c.benchmark_group(format!("search-replace reply of {lines} lines, 21 blocks"));
    group.bench_function("parse", |b| b.iter(|| parse(Format::SearchReplace, black_box(&reply))));
    group.bench_function("parse + apply_all", |b| {
        b.iter(|| {
            let change = parse(Format::SearchReplace, black_box(&reply)).expect("parses");
            apply_all(&change.edits, read).expect("applies")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
