//! The SQLite [`Store`]: one file under `.orch/`, WAL so readers in other
//! processes never block the writer, `synchronous=NORMAL` by default (a
//! commit survives the process being killed; the last commits before a power
//! loss may be lost — choose `FULL` to fsync every commit), a busy timeout so
//! two writers (a run and an `orch task --approve`) wait for each other
//! instead of failing, and one `BEGIN IMMEDIATE` transaction per [`Commit`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension as _, TransactionBehavior, params};
use serde::Deserialize;

use super::schema::{self, MIGRATIONS};
use super::{
    Added, CallCost, CallStatus, Category, Commit, CommitRequest, Event, EventRow, HumanDecision, JournalEntry,
    ModelStats, Moved, Outcome, Repeated, RunCost, RunRecord, Status, StepRecord, Store, StoreError, TaskExport,
    TaskMeta, TaskRecord, Totals, Transition, now_ms,
};
use crate::state::{StepState, TaskState};
use crate::task_retry::{self, RetryRequest};
use crate::tasks::TaskSpec;

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// Survives the process being killed; a power loss may lose the last
    /// commits (never corrupts). The default.
    #[default]
    Normal,
    /// Also survives power loss, at an fsync per commit.
    Full,
}

/// Page size of new store files.
const PAGE_SIZE: u32 = 8192;

/// How long a writer waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A store in one SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

type Tx<'c> = rusqlite::Transaction<'c>;

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and brings its schema
    /// up to date. An existing file that is not an orch store, or is from a
    /// newer orch, is refused before anything is written to it.
    pub fn open(path: &Path, synchronous: Synchronous) -> Result<Self, StoreError> {
        if path.is_file() {
            drop(probe(path)?);
        }
        let shown = path.display().to_string();
        let db = |e: rusqlite::Error| StoreError::Database { path: shown.clone(), message: e.to_string() };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database {
                path: shown.clone(),
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let mut conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        let sync = match synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        // The page size only takes effect on a new file (before WAL is on):
        // 8 KiB pages pack multi-kilobyte journal rows with less waste.
        let pragmas =
            format!("PRAGMA page_size = {PAGE_SIZE}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync};");
        when_not_busy(|| conn.execute_batch(&pragmas)).map_err(|e| not_a_store(&shown, e))?;
        migrate(&mut conn, &shown)?;
        Ok(Self { path: path.to_owned(), conn: Mutex::new(conn) })
    }

    /// Opens an existing store for reading, changing nothing: a missing
    /// file, a file that is not an orch store or one from a newer orch is an
    /// error. A store from an older orch is brought up to date first.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(StoreError::Missing { path: shown });
        }
        let (conn, version) = probe(path)?;
        match version {
            Some(version) if version == schema::latest() => Ok(Self { path: path.to_owned(), conn: Mutex::new(conn) }),
            Some(_) => {
                drop(conn);
                Self::open(path, Synchronous::default())
            }
            None => Err(StoreError::NotAStore { path: shown, message: "it is empty".into() }),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |e| StoreError::Database { path: self.path.display().to_string(), message: e.to_string() }
    }

    /// Runs `f` in an immediate transaction and commits it.
    fn write<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().expect("the store lock is not poisoned");
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(self.db())?;
        let value = f(&tx)?;
        tx.commit().map_err(self.db())?;
        Ok(value)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&self.conn.lock().expect("the store lock is not poisoned"))
    }
}

/// Runs `f` again while SQLite answers BUSY or LOCKED, for up to the busy
/// timeout. Switching a new file to WAL while another process opens it too
/// fails at once instead of waiting on the busy handler.
fn when_not_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            outcome => return outcome,
        }
    }
}

/// Opens `path` read-only and reads its schema version: `None` for an empty
/// database (one being created), an error for anything that is not an orch
/// store or is newer than this build.
fn probe(path: &Path) -> Result<(Connection, Option<i64>), StoreError> {
    let shown = path.display().to_string();
    let fail = |e| not_a_store(&shown, e);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(fail)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
    let (version, tables): (i64, i64) = when_not_busy(|| {
        conn.query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })
    .map_err(fail)?;
    match (version, tables) {
        (0, 0) => Ok((conn, None)),
        (0, _) => Err(StoreError::NotAStore { path: shown, message: "it holds another program's tables".into() }),
        (v, _) if v > schema::latest() => {
            Err(StoreError::NewerSchema { path: shown, found: v, supported: schema::latest() })
        }
        (v, _) => Ok((conn, Some(v))),
    }
}

/// Names a file SQLite cannot read as a database; other errors stay database errors.
fn not_a_store(path: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            StoreError::NotAStore { path: path.to_owned(), message: e.to_string() }
        }
        _ => StoreError::Database { path: path.to_owned(), message: e.to_string() },
    }
}

fn migrate(conn: &mut Connection, shown: &str) -> Result<(), StoreError> {
    let db = |e: rusqlite::Error| StoreError::Database { path: shown.to_owned(), message: e.to_string() };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db)?;
    if version > schema::latest() {
        return Err(StoreError::NewerSchema { path: shown.to_owned(), found: version, supported: schema::latest() });
    }
    if version == schema::latest() {
        // Up to date: write nothing.
        return tx.commit().map_err(db);
    }
    for migration in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
        tx.execute_batch(migration).map_err(db)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {}", schema::latest())).map_err(db)?;
    tx.commit().map_err(db)
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("cannot decode {what}: {e}"))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("store records serialise to JSON")
}

const TASK_COLUMNS: &str =
    "spec, state, seq, position, created_ms, updated_ms, cost_usd, last_error, meta, repeated_calls, repeated_cost_usd";

fn task_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<TaskRecord, StoreError>> {
    let spec: String = row.get(0)?;
    let state: String = row.get(1)?;
    let meta: String = row.get(8)?;
    let (seq, position, created_ms, updated_ms, cost_usd, last_error) =
        (row.get::<_, i64>(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?);
    let (repeated_calls, repeated_cost_usd) = (row.get::<_, i64>(9)?, row.get(10)?);
    Ok((|| {
        Ok(TaskRecord {
            spec: serde_json::from_str(&spec).map_err(|e| corrupt("a task spec", e))?,
            state: state.parse().map_err(|e| corrupt("a task state", e))?,
            seq: u64::try_from(seq).unwrap_or_default(),
            position,
            created_ms,
            updated_ms,
            cost_usd,
            repeated_calls: u64::try_from(repeated_calls).unwrap_or_default(),
            repeated_cost_usd,
            last_error,
            meta: serde_json::from_str(&meta).map_err(|e| corrupt("task metadata", e))?,
        })
    })())
}

fn load_task(
    conn: &Connection,
    id: &str,
    db: &impl Fn(rusqlite::Error) -> StoreError,
) -> Result<TaskRecord, StoreError> {
    conn.query_row(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"), [id], task_from_row)
        .optional()
        .map_err(db)?
        .ok_or_else(|| StoreError::UnknownTask(id.to_owned()))?
}

fn parse_name<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|e| corrupt("an event field", e))
}

/// Inserts an event row (with its transition, if it is one) and returns it.
fn insert_event(
    tx: &Tx<'_>,
    run: Option<i64>,
    task: &str,
    event: &Event,
    transition: Option<&Transition>,
    at_ms: i64,
) -> rusqlite::Result<EventRow> {
    let (from, to) = match transition.map(|t| &t.moved) {
        Some(Moved::Task { from, to }) => (Some(from.as_str()), Some(to.as_str())),
        Some(Moved::Step { from, to, .. }) => (Some(from.as_str()), Some(to.as_str())),
        None => (None, None),
    };
    tx.prepare_cached(
        "INSERT INTO events (run_id, task_id, seq, at_ms, category, status, step, message, from_state, to_state, actor,
         comment, superseded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        run,
        task,
        transition.map(|t| t.seq as i64),
        at_ms,
        event.category.as_str(),
        event.status.as_str(),
        event.step,
        event.message,
        from,
        to,
        transition.map(|t| t.actor.as_str()),
        transition.and_then(|t| t.comment.as_deref()),
        transition.and_then(|t| t.superseded_by).map(|s| s as i64),
    ])?;
    Ok(EventRow {
        id: tx.last_insert_rowid(),
        run,
        task: Some(task.to_owned()),
        at_ms,
        category: event.category,
        status: event.status,
        step: event.step.clone(),
        message: event.message.clone(),
        moved: from.zip(to).map(|(from, to)| (from.to_owned(), to.to_owned())),
    })
}

/// A transition read back from its event row.
fn transition_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Transition, StoreError>> {
    let (seq, step, message, at_ms): (i64, Option<String>, String, i64) =
        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(6)?);
    let (from, to, actor, comment): (String, String, String, Option<String>) =
        (row.get(3)?, row.get(4)?, row.get(5)?, row.get(7)?);
    let superseded_by = row.get::<_, Option<i64>>(8)?.map(|s| s as u64);
    let moved = match step {
        None => from
            .parse()
            .and_then(|from| to.parse().map(|to| Moved::Task { from, to }))
            .map_err(|e| corrupt("a transition", e)),
        Some(step) => from
            .parse()
            .and_then(|from| to.parse().map(|to| Moved::Step { step, from, to }))
            .map_err(|e| corrupt("a transition", e)),
    };
    Ok(moved.map(|moved| Transition { seq: seq as u64, moved, actor, message, comment, at_ms, superseded_by }))
}

/// The event a transition is logged as.
fn transition_event(transition: &Transition) -> Event {
    let (step, status) = match &transition.moved {
        Moved::Task { to, .. } => (
            None,
            match to {
                TaskState::Done => Status::Ok,
                TaskState::Failed => Status::Failed,
                TaskState::AwaitingHuman | TaskState::PlanRejected => Status::Warning,
                _ => Status::Info,
            },
        ),
        Moved::Step { step, to, .. } => (
            Some(step.clone()),
            match to {
                StepState::Completed | StepState::Approved => Status::Ok,
                StepState::Failed => Status::Failed,
                StepState::Rejected => Status::Warning,
                _ => Status::Info,
            },
        ),
    };
    let category = if transition.actor == "human" { Category::HumanReview } else { Category::Task };
    Event { category, status, step, message: transition.message.clone() }
}

/// The stored state of step `step` of `task`, if the step exists.
fn step_state(tx: &Tx<'_>, task: &str, step: &str) -> Result<Option<StepState>, StoreError> {
    let state: Option<String> = tx
        .prepare_cached("SELECT state FROM steps WHERE task_id = ?1 AND id = ?2")
        .and_then(|mut s| s.query_row([task, step], |r| r.get(0)).optional())
        .map_err(|e| StoreError::Corrupt(format!("task `{task}` step `{step}`: {e}")))?;
    state.map(|s| s.parse().map_err(|e| corrupt("a step state", e))).transpose()
}

/// Applies one transition to the task row's state (returned) and the steps table.
fn apply_transition(
    tx: &Tx<'_>,
    task: &str,
    state: TaskState,
    transition: &Transition,
) -> Result<TaskState, StoreError> {
    let illegal = |source| StoreError::Illegal { task: task.to_owned(), source };
    match &transition.moved {
        Moved::Task { from, to } => {
            if *from != state {
                return Err(StoreError::Corrupt(format!(
                    "task `{task}`: transition {} says it leaves {from}, but the task is {state}",
                    transition.seq
                )));
            }
            from.check(*to).map_err(illegal)?;
            Ok(*to)
        }
        Moved::Step { step, from, to } => {
            let db = |e: rusqlite::Error| StoreError::Corrupt(format!("task `{task}` step `{step}`: {e}"));
            let stored = step_state(tx, task, step)?
                .ok_or_else(|| StoreError::Corrupt(format!("task `{task}` has no step `{step}`")))?;
            if stored != *from {
                return Err(StoreError::Corrupt(format!(
                    "task `{task}` step `{step}`: transition {} leaves {from}, but the step is {stored}",
                    transition.seq
                )));
            }
            from.check(*to).map_err(illegal)?;
            let bump = i64::from(*to == StepState::Implementing);
            tx.prepare_cached("UPDATE steps SET state = ?3, attempts = attempts + ?4 WHERE task_id = ?1 AND id = ?2")
                .and_then(|mut s| s.execute(params![task, step, to.as_str(), bump]))
                .map_err(db)?;
            Ok(state)
        }
    }
}

fn insert_steps(tx: &Tx<'_>, task: &str, steps: &[StepRecord]) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO steps (task_id, idx, id, kind, description, state, attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for step in steps {
        insert.execute(params![
            task,
            step.index,
            step.id,
            step.kind,
            step.description,
            step.state.as_str(),
            step.attempts
        ])?;
    }
    Ok(())
}

/// Splits a top-level `text` string out of a result, to be stored raw.
fn split_text(result: &serde_json::Value) -> (String, Option<&str>) {
    match result {
        serde_json::Value::Object(map) if map.get("text").is_some_and(serde_json::Value::is_string) => {
            let rest: serde_json::Map<_, _> =
                map.iter().filter(|(k, _)| *k != "text").map(|(k, v)| (k.clone(), v.clone())).collect();
            (json(&rest), map["text"].as_str())
        }
        other => (json(other), None),
    }
}

/// The journal columns an entry fills, in the order of the parameters
/// `?1`..`?21` of [`journal_params`].
const JOURNAL_INSERT: &str =
    "INSERT INTO journal (task_id, key, run_id, kind, plugin, model, result, text, input_tokens,
     output_tokens, cost_usd, duration_ms, at_ms, status, started_ms, starts, repeated_calls, repeated_input_tokens,
     repeated_output_tokens, repeated_cost_usd, at_seq, superseded_by)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)";

/// The parameters of [`JOURNAL_INSERT`] for `entry`, written at `at_ms`.
fn journal_params(task: &str, run: Option<i64>, entry: &JournalEntry, at_ms: i64) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    let (result, text) = split_text(&entry.result);
    let int = |n: u64| Value::Integer(n as i64);
    let started = if entry.status == CallStatus::Pending { Value::Integer(at_ms) } else { Value::Null };
    vec![
        task.to_owned().into(),
        entry.key.clone().into(),
        run.map_or(Value::Null, Value::Integer),
        entry.kind.clone().into(),
        entry.plugin.clone().into(),
        entry.model.clone().map_or(Value::Null, Value::Text),
        result.into(),
        text.map_or(Value::Null, |t| Value::Text(t.to_owned())),
        int(entry.input_tokens),
        int(entry.output_tokens),
        Value::Real(entry.cost_usd),
        int(entry.duration_ms),
        Value::Integer(at_ms),
        entry.status.as_str().to_owned().into(),
        started,
        int(u64::from(entry.starts)),
        int(u64::from(entry.repeated.calls)),
        int(entry.repeated.input_tokens),
        int(entry.repeated.output_tokens),
        Value::Real(entry.repeated.cost_usd),
        entry.at_seq.map_or(Value::Null, int),
        entry.superseded_by.map_or(Value::Null, int),
    ]
}

/// Restores an entry as it was exported.
fn insert_journal(tx: &Tx<'_>, task: &str, run: Option<i64>, entry: &JournalEntry, at_ms: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(JOURNAL_INSERT)?.execute(rusqlite::params_from_iter(journal_params(task, run, entry, at_ms)))?;
    Ok(())
}

/// Writes an entry as a walk reports it: a call about to start is inserted
/// as `pending` (or its pending row counts the new start); a result replaces
/// the pending row, or is inserted; a call that gave up marks its pending
/// row `failed`. A key that already has a result keeps it. Whether a result
/// was written (its cost is then the task's).
fn journal_entry(
    tx: &Tx<'_>,
    task: &str,
    run: Option<i64>,
    entry: &JournalEntry,
    at_ms: i64,
) -> rusqlite::Result<bool> {
    let written = match entry.status {
        CallStatus::Failed => tx
            .prepare_cached(
                "UPDATE journal SET status = 'failed', at_ms = ?3, duration_ms = ?4
                 WHERE task_id = ?1 AND key = ?2 AND superseded_by IS NULL AND status = 'pending'",
            )?
            .execute(params![task, entry.key, at_ms, entry.duration_ms as i64])?,
        CallStatus::Pending => tx
            .prepare_cached(&format!(
                "{JOURNAL_INSERT} ON CONFLICT (task_id, key) WHERE superseded_by IS NULL DO UPDATE SET
                 status = 'pending', starts = excluded.starts, started_ms = excluded.started_ms, at_ms = excluded.at_ms,
                 run_id = excluded.run_id, plugin = excluded.plugin, model = excluded.model, result = excluded.result,
                 text = excluded.text, at_seq = excluded.at_seq
                 WHERE journal.status <> 'done'"
            ))?
            .execute(rusqlite::params_from_iter(journal_params(task, run, entry, at_ms)))?,
        CallStatus::Done => tx
            .prepare_cached(&format!(
                "{JOURNAL_INSERT} ON CONFLICT (task_id, key) WHERE superseded_by IS NULL DO UPDATE SET
                 run_id = excluded.run_id, kind = excluded.kind, plugin = excluded.plugin, model = excluded.model,
                 result = excluded.result, text = excluded.text, input_tokens = excluded.input_tokens,
                 output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd,
                 duration_ms = excluded.duration_ms, at_ms = excluded.at_ms, status = 'done', starts = excluded.starts,
                 repeated_calls = excluded.repeated_calls, repeated_input_tokens = excluded.repeated_input_tokens,
                 repeated_output_tokens = excluded.repeated_output_tokens,
                 repeated_cost_usd = excluded.repeated_cost_usd, at_seq = excluded.at_seq
                 WHERE journal.status <> 'done'"
            ))?
            .execute(rusqlite::params_from_iter(journal_params(task, run, entry, at_ms)))?,
    };
    Ok(written == 1 && entry.status == CallStatus::Done)
}

fn journal_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<JournalEntry, StoreError>> {
    let (result, text): (String, Option<String>) = (row.get(4)?, row.get(9)?);
    let mut result: serde_json::Value = match serde_json::from_str(&result) {
        Ok(value) => value,
        Err(e) => return Ok(Err(corrupt("a journaled result", e))),
    };
    if let (Some(text), Some(map)) = (text, result.as_object_mut()) {
        map.insert("text".into(), text.into());
    }
    let status: String = row.get(10)?;
    let status = match parse_name(&status) {
        Ok(status) => status,
        Err(e) => return Ok(Err(e)),
    };
    let count = |i: usize| row.get::<_, i64>(i).map(|n| n as u64);
    Ok(Ok(JournalEntry {
        key: row.get(0)?,
        kind: row.get(1)?,
        plugin: row.get(2)?,
        model: row.get(3)?,
        result,
        input_tokens: count(5)?,
        output_tokens: count(6)?,
        cost_usd: row.get(7)?,
        duration_ms: count(8)?,
        status,
        starts: row.get(11)?,
        repeated: Repeated {
            calls: row.get(12)?,
            input_tokens: count(13)?,
            output_tokens: count(14)?,
            cost_usd: row.get(15)?,
        },
        at_seq: row.get::<_, Option<i64>>(16)?.map(|n| n as u64),
        superseded_by: row.get::<_, Option<i64>>(17)?.map(|n| n as u64),
    }))
}

const JOURNAL_COLUMNS: &str =
    "key, kind, plugin, model, result, input_tokens, output_tokens, cost_usd, duration_ms, text,
     status, starts, repeated_calls, repeated_input_tokens, repeated_output_tokens, repeated_cost_usd, at_seq,
     superseded_by";

fn event_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<EventRow, StoreError>> {
    let (category, status): (String, String) = (row.get(4)?, row.get(5)?);
    let (id, run, task, at_ms, step, message) =
        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(6)?, row.get(7)?);
    let (from, to): (Option<String>, Option<String>) = (row.get(8)?, row.get(9)?);
    Ok((|| {
        Ok(EventRow {
            id,
            run,
            task,
            at_ms,
            category: parse_name(&category)?,
            status: parse_name(&status)?,
            step,
            message,
            moved: from.zip(to),
        })
    })())
}

fn flatten<T>(
    rows: impl Iterator<Item = rusqlite::Result<Result<T, StoreError>>>,
    db: impl Fn(rusqlite::Error) -> StoreError,
) -> Result<Vec<T>, StoreError> {
    rows.map(|row| row.map_err(&db)?).collect()
}

/// The last error of a task a person rejected (the seed's wording).
pub const HUMAN_REJECTION: &str = "Rejected by human reviewer";

/// Writes `commit` inside `tx`: steps, events, journal (costs added only for
/// entries not already there), transitions checked against the table and the
/// task's sequence number, then the task row.
fn write_commit(
    tx: &Tx<'_>,
    task: &str,
    run: Option<i64>,
    commit: &Commit,
    db: &impl Fn(rusqlite::Error) -> StoreError,
) -> Result<Vec<EventRow>, StoreError> {
    let (state, seq): (String, i64) = tx
        .prepare_cached("SELECT state, seq FROM tasks WHERE id = ?1")
        .and_then(|mut s| s.query_row([task], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(db)?
        .ok_or_else(|| StoreError::UnknownTask(task.to_owned()))?;
    let mut state: TaskState = state.parse().map_err(|e| corrupt("a task state", e))?;
    let mut seq = seq as u64;
    let now = now_ms();
    if let Some(steps) = &commit.steps_reset {
        reset_steps(tx, task, steps).map_err(db)?;
    }
    insert_steps(tx, task, &commit.new_steps).map_err(db)?;
    let mut written = Vec::with_capacity(commit.events.len() + commit.transitions.len());
    for event in &commit.events {
        written.push(insert_event(tx, run, task, event, None, now).map_err(db)?);
    }
    let (mut added_cost, mut repeated_calls, mut repeated_cost) = (0.0, 0, 0.0);
    for entry in &commit.journal {
        if journal_entry(tx, task, run, entry, now).map_err(db)? {
            added_cost += entry.cost_usd;
            repeated_calls += i64::from(entry.repeated.calls);
            repeated_cost += entry.repeated.cost_usd;
        }
    }
    for outcome in &commit.outcomes {
        insert_outcome(tx, task, outcome, now).map_err(db)?;
    }
    for transition in &commit.transitions {
        if transition.seq != seq + 1 {
            return Err(StoreError::Conflict { task: task.to_owned(), expected: transition.seq, found: seq + 1 });
        }
        state = apply_transition(tx, task, state, transition)?;
        seq = transition.seq;
        let stamped = Transition { at_ms: now, ..transition.clone() };
        written.push(insert_event(tx, run, task, &transition_event(&stamped), Some(&stamped), now).map_err(db)?);
    }
    tx.prepare_cached(
        "UPDATE tasks SET state = ?2, seq = ?3, updated_ms = ?4, cost_usd = cost_usd + ?5,
         meta = COALESCE(?6, meta), last_error = CASE WHEN ?7 THEN ?8 ELSE last_error END,
         repeated_calls = repeated_calls + ?9, repeated_cost_usd = repeated_cost_usd + ?10 WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            task,
            state.as_str(),
            seq as i64,
            now,
            added_cost,
            commit.meta.as_ref().map(json),
            commit.last_error.is_some(),
            commit.last_error.clone().flatten(),
            repeated_calls,
            repeated_cost
        ])
    })
    .map_err(db)?;
    Ok(written)
}

/// Records how a round went, unless it is recorded already.
fn insert_outcome(tx: &Tx<'_>, task: &str, o: &Outcome, at_ms: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO outcomes (task_id, role, unit, round, area, risk, provider, model, accepted, cost_usd,
                                         latency_ms, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        task,
        o.role,
        o.unit,
        o.round,
        o.area,
        o.risk,
        o.provider,
        o.model,
        o.accepted,
        o.cost_usd,
        o.latency_ms as i64,
        at_ms
    ])?;
    Ok(())
}

/// Keeps only `steps` of `task`, in the states given.
fn reset_steps(tx: &Tx<'_>, task: &str, steps: &[(String, StepState)]) -> rusqlite::Result<()> {
    let kept: Vec<&str> = steps.iter().map(|(id, _)| id.as_str()).collect();
    let mut ids = tx.prepare_cached("SELECT id FROM steps WHERE task_id = ?1")?;
    let stale: Vec<String> = ids
        .query_map([task], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|id| !kept.contains(&id.as_str()))
        .collect();
    for id in stale {
        tx.prepare_cached("DELETE FROM steps WHERE task_id = ?1 AND id = ?2")?.execute([task, &id])?;
    }
    for (id, state) in steps {
        tx.prepare_cached("UPDATE steps SET state = ?3 WHERE task_id = ?1 AND id = ?2")?.execute([
            task,
            id,
            state.as_str(),
        ])?;
    }
    Ok(())
}

/// A task's steps in order.
fn load_steps(
    conn: &Connection,
    id: &str,
    db: &impl Fn(rusqlite::Error) -> StoreError,
) -> Result<Vec<StepRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT id, idx, kind, description, state, attempts FROM steps WHERE task_id = ?1 ORDER BY idx")
        .map_err(db)?;
    let rows = stmt
        .query_map([id], |r| {
            let state: String = r.get(4)?;
            Ok(state.parse().map_err(|e| corrupt("a step state", e)).map(|state| StepRecord {
                id: r.get(0).unwrap_or_default(),
                index: r.get(1).unwrap_or_default(),
                kind: r.get(2).unwrap_or_default(),
                description: r.get(3).unwrap_or_default(),
                state,
                attempts: r.get(5).unwrap_or_default(),
            }))
        })
        .map_err(db)?;
    flatten(rows, db)
}

/// A task's transitions in order, those set aside included.
fn load_history(
    conn: &Connection,
    id: &str,
    db: &impl Fn(rusqlite::Error) -> StoreError,
) -> Result<Vec<Transition>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, step, message, from_state, to_state, actor, at_ms, comment, superseded_by FROM events
             WHERE task_id = ?1 AND seq IS NOT NULL ORDER BY seq",
        )
        .map_err(db)?;
    flatten(stmt.query_map([id], transition_from_row).map_err(db)?, db)
}

impl Store for SqliteStore {
    fn add_tasks(&self, tasks: &[TaskSpec]) -> Result<Added, StoreError> {
        let db = self.db();
        self.write(|tx| {
            let mut added = Added::default();
            let base: i64 = tx.query_row("SELECT COALESCE(MAX(position), -1) + 1 FROM tasks", [], |r| r.get(0)).map_err(&db)?;
            let now = now_ms();
            for (offset, spec) in tasks.iter().enumerate() {
                let inserted = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO tasks (id, position, spec, state, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    )
                    .and_then(|mut s| s.execute(params![spec.id, base + offset as i64, json(spec), TaskState::New.as_str(), now]))
                    .map_err(&db)?;
                if inserted == 1 { &mut added.added } else { &mut added.existing }.push(spec.id.clone());
            }
            Ok(added)
        })
    }

    fn task(&self, id: &str) -> Result<TaskRecord, StoreError> {
        let db = self.db();
        self.read(|conn| load_task(conn, id, &db))
    }

    fn tasks(&self, states: &[TaskState]) -> Result<Vec<TaskRecord>, StoreError> {
        let db = self.db();
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {TASK_COLUMNS} FROM tasks ORDER BY position")).map_err(&db)?;
            let all = flatten(stmt.query_map([], task_from_row).map_err(&db)?, &db)?;
            Ok(all.into_iter().filter(|t| states.is_empty() || states.contains(&t.state)).collect())
        })
    }

    fn steps(&self, id: &str) -> Result<Vec<StepRecord>, StoreError> {
        let db = self.db();
        self.read(|conn| load_steps(conn, id, &db))
    }

    fn history(&self, id: &str) -> Result<Vec<Transition>, StoreError> {
        let db = self.db();
        self.read(|conn| load_history(conn, id, &db))
    }

    fn journal(&self, task: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let db = self.db();
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {JOURNAL_COLUMNS} FROM journal WHERE task_id = ?1 ORDER BY id"))
                .map_err(&db)?;
            flatten(stmt.query_map([task], journal_from_row).map_err(&db)?, &db)
        })
    }

    /// One transaction for the whole batch (group commit), with a savepoint
    /// per commit so a refused one leaves the others intact.
    fn commit_batch(&self, batch: &[CommitRequest<'_>]) -> Vec<Result<Vec<EventRow>, StoreError>> {
        let db = self.db();
        if let [single] = batch {
            return vec![self.write(|tx| write_commit(tx, single.task, single.run, single.commit, &db))];
        }
        let outcome = self.write(|tx| {
            let savepoint = |sql: &str| tx.prepare_cached(sql).and_then(|mut s| s.execute([])).map_err(&db);
            let mut results = Vec::with_capacity(batch.len());
            for request in batch {
                savepoint("SAVEPOINT one_commit")?;
                let result = write_commit(tx, request.task, request.run, request.commit, &db);
                if result.is_err() {
                    savepoint("ROLLBACK TO one_commit")?;
                }
                savepoint("RELEASE one_commit")?;
                results.push(result);
            }
            Ok(results)
        });
        match outcome {
            Ok(results) => results,
            Err(e) => {
                let message = e.to_string();
                batch
                    .iter()
                    .map(|_| {
                        Err(StoreError::Database { path: self.path.display().to_string(), message: message.clone() })
                    })
                    .collect()
            }
        }
    }

    fn decide(&self, task: &str, decision: HumanDecision) -> Result<TaskState, StoreError> {
        let db = self.db();
        self.write(|tx| {
            let record = load_task(tx, task, &db)?;
            let (verb, comment) = match &decision {
                HumanDecision::Approve { comment } => ("approve", comment.clone()),
                HumanDecision::Reject { comment } => ("reject", comment.clone()),
            };
            if record.state != TaskState::AwaitingHuman {
                return Err(StoreError::NotAwaiting { task: task.to_owned(), state: record.state, verb });
            }
            let resume_to = record.meta.escalation.as_ref().map_or(TaskState::Implementing, |e| e.resume_to);
            let (to, message, error) = match decision {
                HumanDecision::Approve { .. } => {
                    (resume_to, format!("approved by a person; continues at {resume_to}"), None)
                }
                HumanDecision::Reject { .. } => {
                    (TaskState::Failed, HUMAN_REJECTION.to_owned(), Some(HUMAN_REJECTION.to_owned()))
                }
            };
            let message = match &comment {
                Some(c) => format!("{message} (comment: {c})"),
                None => message,
            };
            let transition = Transition {
                seq: record.seq + 1,
                moved: Moved::Task { from: TaskState::AwaitingHuman, to },
                actor: "human".into(),
                message,
                comment,
                at_ms: 0,
                superseded_by: None,
            };
            let mut transitions = vec![transition];
            // A rejected task's step in progress fails with it, as the engine
            // would record it on replay.
            if to == TaskState::Failed
                && let Some(step) = record.meta.current_step.clone()
                && let Some(from) = step_state(tx, task, &step)?.filter(|f| f.check(StepState::Failed).is_ok())
            {
                transitions.push(Transition {
                    seq: record.seq + 2,
                    moved: Moved::Step { step, from, to: StepState::Failed },
                    actor: "engine".into(),
                    message: "rejected by a person".into(),
                    comment: None,
                    at_ms: 0,
                    superseded_by: None,
                });
            }
            let meta = TaskMeta { escalation: None, ..record.meta };
            let commit = Commit { transitions, meta: Some(meta), last_error: Some(error), ..Commit::default() };
            write_commit(tx, task, None, &commit, &db)?;
            Ok(to)
        })
    }

    fn retry(&self, task: &str, request: &RetryRequest) -> Result<TaskState, StoreError> {
        let db = self.db();
        self.write(|tx| {
            let record = load_task(tx, task, &db)?;
            let history = load_history(tx, task, &db)?;
            let live: Vec<Transition> = history.into_iter().filter(|t| t.superseded_by.is_none()).collect();
            let plan = task_retry::plan(task, record.state, &live, request)
                .map_err(|reason| StoreError::CannotRetry { task: task.to_owned(), reason })?;
            let seq = record.seq + 1;
            tx.prepare_cached(
                "UPDATE events SET superseded_by = ?3
                 WHERE task_id = ?1 AND seq IS NOT NULL AND seq > ?2 AND superseded_by IS NULL",
            )
            .and_then(|mut s| s.execute(params![task, plan.cut as i64, seq as i64]))
            .map_err(&db)?;
            if let Some(from) = plan.journal_from {
                // The worktree's starting point is the task's, whatever is retried.
                tx.prepare_cached(
                    "UPDATE journal SET superseded_by = ?3 WHERE task_id = ?1 AND superseded_by IS NULL
                     AND COALESCE(at_seq, 0) >= ?2 AND key <> 'workspace/base'",
                )
                .and_then(|mut s| s.execute(params![task, from as i64, seq as i64]))
                .map_err(&db)?;
            }
            // Steps go back to their states at the point retried from (the
            // walk removes those it no longer has when it gets there).
            let mut states: BTreeMap<&str, StepState> = BTreeMap::new();
            for t in live.iter().take_while(|t| t.seq <= plan.cut) {
                if let Moved::Step { step, to, .. } = &t.moved {
                    states.insert(step, *to);
                }
            }
            let steps: Vec<(String, StepState)> = load_steps(tx, task, &db)?
                .into_iter()
                .map(|s| {
                    let state = states.get(s.id.as_str()).copied().unwrap_or(StepState::Pending);
                    (s.id, state)
                })
                .collect();
            reset_steps(tx, task, &steps).map_err(&db)?;
            record
                .state
                .check_retry(plan.to)
                .map_err(|source| StoreError::Illegal { task: task.to_owned(), source })?;
            let transition = Transition {
                seq,
                moved: Moved::Task { from: record.state, to: plan.to },
                actor: "human".into(),
                message: match &request.comment {
                    Some(c) => format!("{} (comment: {c})", plan.message),
                    None => plan.message.clone(),
                },
                comment: request.comment.clone(),
                at_ms: now_ms(),
                superseded_by: None,
            };
            let meta = TaskMeta { escalation: None, concerns: Vec::new(), ..record.meta };
            insert_event(tx, None, task, &transition_event(&transition), Some(&transition), transition.at_ms)
                .map_err(&db)?;
            tx.prepare_cached(
                "UPDATE tasks SET state = ?2, seq = ?3, updated_ms = ?4, meta = ?5, last_error = NULL WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![task, plan.to.as_str(), seq as i64, transition.at_ms, json(&meta)]))
            .map_err(&db)?;
            Ok(plan.to)
        })
    }

    fn begin_run(&self, command: &str, cassette: Option<&str>) -> Result<RunRecord, StoreError> {
        let db = self.db();
        self.write(|tx| {
            let started_ms = now_ms();
            tx.execute(
                "INSERT INTO runs (started_ms, command, cassette) VALUES (?1, ?2, ?3)",
                params![started_ms, command, cassette],
            )
            .map_err(&db)?;
            Ok(RunRecord {
                id: tx.last_insert_rowid(),
                started_ms,
                finished_ms: None,
                command: command.to_owned(),
                cassette: cassette.map(str::to_owned),
            })
        })
    }

    fn finish_run(&self, run: i64) -> Result<(), StoreError> {
        let db = self.db();
        self.write(|tx| {
            tx.execute("UPDATE runs SET finished_ms = ?2 WHERE id = ?1", params![run, now_ms()]).map_err(&db)?;
            Ok(())
        })
    }

    fn events(&self, run: Option<i64>, after_id: i64) -> Result<Vec<EventRow>, StoreError> {
        let db = self.db();
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, run_id, task_id, at_ms, category, status, step, message, from_state, to_state FROM events
                     WHERE id > ?1 AND (?2 IS NULL OR run_id = ?2) ORDER BY id",
                )
                .map_err(&db)?;
            flatten(stmt.query_map(params![after_id, run], event_from_row).map_err(&db)?, &db)
        })
    }

    fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        let db = self.db();
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id, started_ms, finished_ms, command, cassette FROM runs ORDER BY id")
                .map_err(&db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(RunRecord {
                        id: r.get(0)?,
                        started_ms: r.get(1)?,
                        finished_ms: r.get(2)?,
                        command: r.get(3)?,
                        cassette: r.get(4)?,
                    })
                })
                .map_err(&db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(&db)
        })
    }

    fn calls(&self) -> Result<Vec<CallCost>, StoreError> {
        let db = self.db();
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT task_id, run_id, kind, key, plugin, model, input_tokens, output_tokens, cost_usd,
                            duration_ms, at_ms, status, repeated_calls, repeated_input_tokens, repeated_output_tokens,
                            repeated_cost_usd, superseded_by FROM journal ORDER BY id",
                )
                .map_err(&db)?;
            let rows = stmt
                .query_map([], |r| {
                    let status: String = r.get(11)?;
                    Ok(CallCost {
                        task: r.get(0)?,
                        run: r.get(1)?,
                        kind: r.get(2)?,
                        key: r.get(3)?,
                        plugin: r.get(4)?,
                        model: r.get(5)?,
                        input_tokens: r.get::<_, i64>(6)? as u64,
                        output_tokens: r.get::<_, i64>(7)? as u64,
                        cost_usd: r.get(8)?,
                        duration_ms: r.get::<_, i64>(9)? as u64,
                        at_ms: r.get(10)?,
                        status: parse_name(&status).unwrap_or(CallStatus::Done),
                        repeated: Repeated {
                            calls: r.get(12)?,
                            input_tokens: r.get::<_, i64>(13)? as u64,
                            output_tokens: r.get::<_, i64>(14)? as u64,
                            cost_usd: r.get(15)?,
                        },
                        superseded_by: r.get::<_, Option<i64>>(16)?.map(|n| n as u64),
                    })
                })
                .map_err(&db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(&db)
        })
    }

    fn run_cost(&self, run: i64) -> Result<RunCost, StoreError> {
        let db = self.db();
        self.read(|conn| {
            conn.query_row(
                "SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(repeated_calls), 0), COALESCE(SUM(repeated_cost_usd), 0)
                 FROM journal WHERE run_id = ?1 AND status = 'done'",
                [run],
                |r| {
                    Ok(RunCost {
                        journaled_usd: r.get(0)?,
                        repeated_calls: r.get::<_, i64>(1)? as u64,
                        repeated_usd: r.get(2)?,
                    })
                },
            )
            .map_err(&db)
        })
    }

    fn model_history(&self, role: &str, area: &str, risk: &str) -> Result<Vec<ModelStats>, StoreError> {
        let db = self.db();
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT provider, model, COUNT(*), AVG(accepted), AVG(cost_usd), AVG(latency_ms),
                            COUNT(DISTINCT task_id || '/' || unit)
                     FROM outcomes WHERE role = ?1 AND area = ?2 AND risk = ?3
                     GROUP BY provider, model ORDER BY provider, model",
                )
                .map_err(&db)?;
            let rows = stmt
                .query_map([role, area, risk], |r| {
                    let rounds: i64 = r.get(2)?;
                    let units: i64 = r.get(6)?;
                    Ok(ModelStats {
                        provider: r.get(0)?,
                        model: r.get(1)?,
                        rounds: u32::try_from(rounds).unwrap_or(u32::MAX),
                        success_rate: r.get(3)?,
                        mean_rounds: rounds as f64 / units.max(1) as f64,
                        mean_cost_usd: r.get(4)?,
                        mean_latency_ms: r.get(5)?,
                    })
                })
                .map_err(&db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(&db)
        })
    }

    fn totals(&self) -> Result<Totals, StoreError> {
        let db = self.db();
        self.read(|conn| {
            let mut totals = Totals::default();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT state, COUNT(*), SUM(cost_usd), SUM(repeated_calls), SUM(repeated_cost_usd)
                     FROM tasks GROUP BY state",
                )
                .map_err(&db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, f64>(2)?,
                        r.get::<_, i64>(3)? as u64,
                        r.get::<_, f64>(4)?,
                    ))
                })
                .map_err(&db)?;
            for row in rows {
                let (state, count, cost, repeated_calls, repeated_cost) = row.map_err(&db)?;
                let parsed: TaskState = state.parse().map_err(|e| corrupt("a task state", e))?;
                totals.tasks += count;
                totals.cost_usd += cost;
                totals.repeated_calls += repeated_calls;
                totals.repeated_cost_usd += repeated_cost;
                totals.active += if parsed.is_active() { count } else { 0 };
                totals.awaiting_human += if parsed == TaskState::AwaitingHuman { count } else { 0 };
                totals.by_state.insert(state, count);
            }
            Ok(totals)
        })
    }

    fn export_task(&self, id: &str) -> Result<TaskExport, StoreError> {
        Ok(TaskExport::new(self.task(id)?, self.steps(id)?, self.history(id)?, self.journal(id)?))
    }

    fn import_task(&self, export: &TaskExport) -> Result<(), StoreError> {
        export.check()?;
        let db = self.db();
        let task = &export.task;
        let id = task.spec.id.as_str();
        self.write(|tx| {
            for table in ["tasks", "steps", "journal"] {
                let column = if table == "tasks" { "id" } else { "task_id" };
                tx.execute(&format!("DELETE FROM {table} WHERE {column} = ?1"), [id]).map_err(&db)?;
            }
            tx.execute("DELETE FROM events WHERE task_id = ?1", [id]).map_err(&db)?;
            tx.execute(
                "INSERT INTO tasks (id, position, spec, state, seq, created_ms, updated_ms, cost_usd, last_error, meta,
                 repeated_calls, repeated_cost_usd) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    id,
                    task.position,
                    json(&task.spec),
                    task.state.as_str(),
                    task.seq as i64,
                    task.created_ms,
                    task.updated_ms,
                    task.cost_usd,
                    task.last_error,
                    json(&task.meta),
                    task.repeated_calls as i64,
                    task.repeated_cost_usd
                ],
            )
            .map_err(&db)?;
            insert_steps(tx, id, &export.steps).map_err(&db)?;
            for transition in &export.history {
                insert_event(tx, None, id, &transition_event(transition), Some(transition), transition.at_ms)
                    .map_err(&db)?;
            }
            for entry in &export.journal {
                insert_journal(tx, id, None, entry, task.updated_ms).map_err(&db)?;
            }
            Ok(())
        })
    }
}
