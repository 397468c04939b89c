//! What `orch run` shows while it works: on a terminal, a live view with one
//! line per task (state, current step, cost so far, retries); otherwise one
//! line per event on stderr. Either way every event also goes to the run log.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output::{Tone, paint, state_tone, usd};
use crate::engine::EventSink;
use crate::runlog::{RunLog, event_text};
use crate::state::TaskState;
use crate::store::{Category, EventRow, Status, Store, render_iso};

/// One event as a plain line: time, category, task/step, what happened.
pub fn render_line(event: &EventRow) -> String {
    let subject = match (&event.task, &event.step) {
        (Some(task), Some(step)) => format!("{task}/{step}"),
        (Some(task), None) => task.clone(),
        _ => "-".to_owned(),
    };
    let text = event_text(event);
    let text = match event.status {
        Status::Failed => paint(&text, Tone::Bad),
        Status::Warning => paint(&text, Tone::Attention),
        Status::Ok | Status::Info => text,
    };
    format!("{}  {:<12}  {subject}  {text}", render_iso(event.at_ms), event.category.as_str())
}

/// The run's event sink: the run log plus the progress view.
pub struct Progress {
    log: Arc<RunLog>,
    live: Option<Live>,
}

impl Progress {
    /// A live view of `ids` when stderr is a terminal, else event lines.
    pub fn new(log: Arc<RunLog>, store: Arc<dyn Store>, ids: &[String]) -> Self {
        let live = std::io::stderr().is_terminal().then(|| Live::new(store, ids));
        Self { log, live }
    }

    /// Removes the live view; the run's closing table takes its place.
    pub fn finish(&self) {
        if let Some(live) = &self.live {
            live.finish();
        }
    }
}

impl EventSink for Progress {
    fn emit(&self, events: &[EventRow]) {
        self.log.emit(events);
        match &self.live {
            Some(live) => live.update(events),
            None => {
                let lines: String = events.iter().map(|e| render_line(e) + "\n").collect();
                eprint!("{lines}");
            }
        }
    }
}

/// The live view: one spinner line per task.
struct Live {
    store: Arc<dyn Store>,
    bars: MultiProgress,
    tasks: Mutex<HashMap<String, TaskLine>>,
    width: usize,
}

/// What a task's line shows.
struct TaskLine {
    bar: ProgressBar,
    state: TaskState,
    step: Option<String>,
    cost_usd: f64,
    retries: u32,
}

impl Live {
    fn new(store: Arc<dyn Store>, ids: &[String]) -> Self {
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {msg}").expect("the template is valid");
        let width = ids.iter().map(|id| id.chars().count()).max().unwrap_or(0);
        let mut tasks = HashMap::new();
        for id in ids {
            let task = store.task(id).ok();
            let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()));
            let line = TaskLine {
                bar,
                state: task.as_ref().map_or(TaskState::New, |t| t.state),
                step: task.as_ref().and_then(|t| t.meta.current_step.clone()),
                cost_usd: task.as_ref().map_or(0.0, |t| t.cost_usd),
                retries: 0,
            };
            line.show(id, width);
            if line.state.is_terminal() {
                line.bar.finish();
            } else {
                line.bar.enable_steady_tick(Duration::from_millis(120));
            }
            tasks.insert(id.clone(), line);
        }
        Self { store, bars, tasks: Mutex::new(tasks), width }
    }

    fn update(&self, events: &[EventRow]) {
        let mut tasks = self.tasks.lock().expect("the progress lock is not poisoned");
        for event in events {
            let Some(id) = &event.task else { continue };
            let Some(line) = tasks.get_mut(id) else { continue };
            match (&event.moved, &event.step) {
                (Some((_, to)), None) => line.state = to.parse().unwrap_or(line.state),
                (_, Some(step)) => line.step = Some(step.clone()),
                (None, None) => {}
            }
            match event.category {
                Category::Retry => line.retries += 1,
                Category::LlmCall => {
                    line.cost_usd = self.store.task(id).map_or(line.cost_usd, |t| t.cost_usd);
                }
                _ => {}
            }
            line.show(id, self.width);
            if line.state.is_terminal() || line.state == TaskState::AwaitingHuman {
                line.bar.finish();
            }
        }
    }

    fn finish(&self) {
        let tasks = self.tasks.lock().expect("the progress lock is not poisoned");
        for line in tasks.values() {
            line.bar.finish_and_clear();
        }
        let _ = self.bars.clear();
    }
}

impl TaskLine {
    fn show(&self, id: &str, width: usize) {
        let state = format!("{:<14}", self.state.as_str());
        let step = self.step.as_deref().map(|s| format!("step {s}")).unwrap_or_default();
        let retries = match self.retries {
            0 => String::new(),
            n => format!("  {n} retries"),
        };
        self.bar.set_message(format!(
            "{id:<width$}  {}  {:<10}  {step}{retries}",
            paint(&state, state_tone(self.state)),
            usd(self.cost_usd)
        ));
    }
}
