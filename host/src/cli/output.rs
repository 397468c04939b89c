//! Rendering for the terminal: aligned tables, colour (on a terminal only,
//! never with `NO_COLOR` set or `--color never`), money and JSON.

use std::io::IsTerminal as _;
use std::sync::OnceLock;

use clap::ValueEnum;

use crate::state::TaskState;

/// When to colour output (`--color`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always, even in a pipe.
    Always,
    /// Never.
    Never,
}

static COLOR: OnceLock<bool> = OnceLock::new();

/// Decides once, for the whole process, whether output is coloured.
pub fn init_color(choice: ColorChoice) {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
        }
    };
    let _ = COLOR.set(on);
}

fn color_on() -> bool {
    COLOR.get().copied().unwrap_or(false)
}

/// What a coloured piece of text means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Finished well.
    Good,
    /// Failed.
    Bad,
    /// Needs a person.
    Attention,
    /// In progress.
    Active,
    /// Secondary detail.
    Dim,
    /// Headings.
    Bold,
}

/// `text` in `tone`'s colour when colour is on.
pub fn paint(text: &str, tone: Tone) -> String {
    if !color_on() {
        return text.to_owned();
    }
    let code = match tone {
        Tone::Good => "32",
        Tone::Bad => "31",
        Tone::Attention => "33",
        Tone::Active => "36",
        Tone::Dim => "2",
        Tone::Bold => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The tone a task state is shown in.
pub fn state_tone(state: TaskState) -> Tone {
    match state {
        TaskState::Done => Tone::Good,
        TaskState::Failed => Tone::Bad,
        TaskState::AwaitingHuman => Tone::Attention,
        TaskState::New => Tone::Dim,
        _ => Tone::Active,
    }
}

/// USD as shown everywhere: four decimals, because single calls cost fractions of a cent.
pub fn usd(amount: f64) -> String {
    format!("${amount:.4}")
}

/// Rounds per stage (`plan 2, code_review:step-1 1`).
pub fn rounds(attempts: &std::collections::BTreeMap<String, u32>) -> String {
    attempts.iter().map(|(stage, n)| format!("{stage} {n}")).collect::<Vec<_>>().join(", ")
}

/// Formats rows as left-aligned columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    table_toned(header, rows, |_, _| None)
}

/// Like [`table`], colouring cells by `tone(column, text)` after aligning them.
pub fn table_toned(header: &[&str], rows: &[Vec<String>], tone: impl Fn(usize, &str) -> Option<Tone>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for (r, row) in std::iter::once(&header).chain(rows).enumerate() {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            let toned = if r == 0 { Some(Tone::Bold) } else { tone(i, cell) };
            line.push_str(&toned.map_or_else(|| cell.clone(), |t| paint(cell, t)));
            line.push_str(&" ".repeat(width - cell.chars().count() + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Tones a table column that holds task state names.
pub fn state_column(column: usize) -> impl Fn(usize, &str) -> Option<Tone> {
    move |i, text| (i == column).then(|| text.parse().map_or(Tone::Dim, state_tone))
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= max && line.len() == text.len() {
        return line.to_owned();
    }
    let kept: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let out = table(&["A", "BB"], &[vec!["long".into(), "x".into()], vec!["s".into(), "y".into()]]);
        assert_eq!(out, "A     BB\nlong  x\ns     y\n");
    }

    #[test]
    fn clipping_keeps_short_lines_and_marks_cuts() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("a longer line", 6), "a lon…");
        assert_eq!(clip("two\nlines", 10), "two…");
    }
}
