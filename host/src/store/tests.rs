//! Tests of the SQLite store against real files in a temporary directory.

use super::*;
use crate::state::{StepState, TaskState};
use crate::task_retry::{RetryFrom, RetryRequest};
use crate::tasks::TaskSpec;

fn spec(id: &str) -> TaskSpec {
    TaskSpec::new(id, format!("goal of {id}"))
}

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join(".orch/orch.db"), Synchronous::Normal).unwrap()
}

fn task_move(seq: u64, from: TaskState, to: TaskState) -> Transition {
    Transition {
        seq,
        moved: Moved::Task { from, to },
        actor: "engine".into(),
        message: format!("{from} -> {to}"),
        comment: None,
        at_ms: 0,
        superseded_by: None,
    }
}

/// Step `s1`, pending.
fn step_s1() -> StepRecord {
    StepRecord {
        id: "s1".into(),
        index: 0,
        kind: "implementation".into(),
        description: "do".into(),
        state: StepState::Pending,
        attempts: 0,
    }
}

/// Transition `seq` of step `s1`.
fn s1_move(seq: u64, from: StepState, to: StepState) -> Transition {
    Transition { moved: Moved::Step { step: "s1".into(), from, to }, ..task_move(seq, TaskState::New, TaskState::New) }
}

fn entry(key: &str, cost: f64) -> JournalEntry {
    JournalEntry {
        model: Some("gpt".into()),
        input_tokens: 10,
        output_tokens: 5,
        cost_usd: cost,
        duration_ms: 3,
        ..JournalEntry::done(key.into(), "completion", "openai 0.1.0".into(), serde_json::json!({"text": "hello"}))
    }
}

#[test]
fn adding_tasks_is_idempotent_and_keeps_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let added = store.add_tasks(&[spec("b"), spec("a")]).unwrap();
    assert_eq!(added.added, ["b", "a"]);
    let again = store.add_tasks(&[spec("a"), spec("c")]).unwrap();
    assert_eq!((again.added, again.existing), (vec!["c".to_owned()], vec!["a".to_owned()]));
    let ids: Vec<_> = store.tasks(&[]).unwrap().into_iter().map(|t| t.spec.id).collect();
    assert_eq!(ids, ["b", "a", "c"]);
    assert_eq!(store.task("a").unwrap().state, TaskState::New);
    assert!(matches!(store.task("zz"), Err(StoreError::UnknownTask(_))));
}

#[test]
fn commits_apply_transitions_in_sequence_and_log_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.add_tasks(&[spec("a")]).unwrap();
    let run = store.begin_run("orch run", None).unwrap().id;
    let commit = Commit {
        transitions: vec![
            task_move(1, TaskState::New, TaskState::Planning),
            task_move(2, TaskState::Planning, TaskState::PlanReview),
        ],
        journal: vec![entry("k1", 0.25)],
        events: vec![Event { category: Category::LlmCall, status: Status::Ok, step: None, message: "planner".into() }],
        ..Commit::default()
    };
    let written = store.commit("a", Some(run), commit).unwrap();
    assert_eq!(written.len(), 3);
    assert_eq!(written[0].category, Category::LlmCall);
    let task = store.task("a").unwrap();
    assert_eq!((task.state, task.seq, task.cost_usd), (TaskState::PlanReview, 2, 0.25));
    assert_eq!(store.history("a").unwrap().len(), 2);
    assert_eq!(store.events(Some(run), 0).unwrap().len(), 3);

    // A stale sequence number is a conflict and writes nothing.
    let stale = Commit {
        transitions: vec![task_move(2, TaskState::PlanReview, TaskState::PlanApproved)],
        journal: vec![entry("k2", 1.0)],
        ..Commit::default()
    };
    assert!(matches!(store.commit("a", Some(run), stale), Err(StoreError::Conflict { expected: 2, found: 3, .. })));
    // An illegal transition is refused and writes nothing.
    let illegal = Commit {
        transitions: vec![task_move(3, TaskState::PlanReview, TaskState::Done)],
        journal: vec![entry("k2", 1.0)],
        ..Commit::default()
    };
    let err = store.commit("a", Some(run), illegal).unwrap_err().to_string();
    assert!(err.contains("illegal task transition PLAN_REVIEW -> DONE"), "{err}");
    assert_eq!(store.journal("a").unwrap().len(), 1, "the failed commits rolled back");
    assert_eq!(store.task("a").unwrap().cost_usd, 0.25);
}

#[test]
fn journal_entries_are_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.add_tasks(&[spec("a")]).unwrap();
    for _ in 0..2 {
        store.commit("a", None, Commit { journal: vec![entry("same", 0.5)], ..Commit::default() }).unwrap();
    }
    assert_eq!(store.task("a").unwrap().cost_usd, 0.5);
    assert_eq!(store.journal("a").unwrap().len(), 1);
    assert_eq!(store.journal("a").unwrap()[0].result["text"], "hello");
}

#[test]
fn steps_move_through_their_own_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.add_tasks(&[spec("a")]).unwrap();
    let step = step_s1();
    let moved = s1_move;
    store
        .commit(
            "a",
            None,
            Commit {
                new_steps: vec![step],
                transitions: vec![moved(1, StepState::Pending, StepState::Implementing)],
                ..Commit::default()
            },
        )
        .unwrap();
    let steps = store.steps("a").unwrap();
    assert_eq!((steps[0].state, steps[0].attempts), (StepState::Implementing, 1));
    let err = store
        .commit(
            "a",
            None,
            Commit { transitions: vec![moved(2, StepState::Implementing, StepState::Completed)], ..Commit::default() },
        )
        .unwrap_err();
    assert!(err.to_string().contains("illegal step transition IMPLEMENTING -> COMPLETED"), "{err}");
}

#[test]
fn human_decisions_only_apply_to_waiting_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.add_tasks(&[spec("a"), spec("b")]).unwrap();
    let err = store.decide("a", HumanDecision::Approve { comment: None }).unwrap_err().to_string();
    assert_eq!(err, "task `a` is NEW, not AWAITING_HUMAN: there is nothing to approve");

    for id in ["a", "b"] {
        let meta = TaskMeta {
            escalation: Some(Escalation {
                stage: "plan_review".into(),
                reason: "rejected 3 times".into(),
                resume_to: TaskState::PlanApproved,
            }),
            ..TaskMeta::default()
        };
        let path = [
            (TaskState::New, TaskState::Planning),
            (TaskState::Planning, TaskState::PlanReview),
            (TaskState::PlanReview, TaskState::AwaitingHuman),
        ];
        let transitions = path.iter().enumerate().map(|(i, (f, t))| task_move(i as u64 + 1, *f, *t)).collect();
        store.commit(id, None, Commit { transitions, meta: Some(meta), ..Commit::default() }).unwrap();
    }
    assert_eq!(store.totals().unwrap().awaiting_human, 2);
    let to = store.decide("a", HumanDecision::Approve { comment: Some("fine by me".into()) }).unwrap();
    assert_eq!(to, TaskState::PlanApproved);
    let last = store.history("a").unwrap().pop().unwrap();
    assert_eq!((last.actor.as_str(), last.comment.as_deref()), ("human", Some("fine by me")));
    assert!(store.task("a").unwrap().meta.escalation.is_none());

    assert_eq!(store.decide("b", HumanDecision::Reject { comment: None }).unwrap(), TaskState::Failed);
    assert_eq!(store.task("b").unwrap().last_error.as_deref(), Some(sqlite::HUMAN_REJECTION));
    let totals = store.totals().unwrap();
    assert_eq!((totals.tasks, totals.by_state["FAILED"], totals.by_state["PLAN_APPROVED"]), (2, 1, 1));
}

#[test]
fn export_and_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.add_tasks(&[spec("a")]).unwrap();
    let commit = Commit {
        transitions: vec![task_move(1, TaskState::New, TaskState::Planning)],
        journal: vec![entry("k", 0.1)],
        ..Commit::default()
    };
    store.commit("a", None, commit).unwrap();
    let export = store.export_task("a").unwrap();
    let text = export.to_json();

    let other_dir = tempfile::tempdir().unwrap();
    let other = open(&other_dir);
    other.import_task(&TaskExport::from_json(&text).unwrap()).unwrap();
    assert_eq!(other.export_task("a").unwrap(), export);

    let mut broken = export.clone();
    broken.history.clear();
    assert!(other.import_task(&broken).unwrap_err().to_string().contains("history"));
    assert!(TaskExport::from_json("{\"orch_task_export\": 9}").is_err());
}

#[test]
fn a_store_from_a_newer_orch_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orch.db");
    drop(SqliteStore::open(&path, Synchronous::Full).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = SqliteStore::open(&path, Synchronous::Normal).err().unwrap().to_string();
    assert!(err.contains("schema version 99") && err.contains("newer"), "{err}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), 99);
}

#[test]
fn a_file_that_is_not_a_database_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orch.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = SqliteStore::open(&path, Synchronous::Normal).err().unwrap().to_string();
    assert!(err.contains("orch.db") && err.contains("not a database"), "{err}");
}

#[test]
fn a_refused_commit_in_a_batch_leaves_the_others_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.add_tasks(&[spec("a"), spec("b"), spec("c")]).unwrap();
    let good = Commit {
        transitions: vec![task_move(1, TaskState::New, TaskState::Planning)],
        journal: vec![entry("k", 0.5)],
        ..Commit::default()
    };
    let bad = Commit {
        transitions: vec![task_move(1, TaskState::New, TaskState::Done)],
        journal: vec![entry("k", 0.5)],
        ..Commit::default()
    };
    let batch = [
        CommitRequest { task: "a", run: None, commit: &good },
        CommitRequest { task: "b", run: None, commit: &bad },
        CommitRequest { task: "c", run: None, commit: &good },
    ];
    let results = store.commit_batch(&batch);
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(matches!(results[1], Err(StoreError::Illegal { .. })), "{results:?}");
    for (id, state, cost) in
        [("a", TaskState::Planning, 0.5), ("b", TaskState::New, 0.0), ("c", TaskState::Planning, 0.5)]
    {
        let task = store.task(id).unwrap();
        assert_eq!((task.state, task.cost_usd), (state, cost), "{id}");
    }
    assert!(store.history("b").unwrap().is_empty() && store.journal("b").unwrap().is_empty());
}

#[test]
fn category_and_status_names_match_their_serde_names() {
    for category in Category::ALL {
        assert_eq!(serde_json::to_value(category).unwrap(), category.as_str());
    }
    for status in Status::ALL {
        assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
    }
}

#[test]
fn a_store_from_an_older_orch_is_upgraded_when_opened_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orch.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(super::schema::MIGRATIONS[0]).unwrap();
    conn.execute_batch(
        "PRAGMA user_version = 1; INSERT INTO runs (started_ms, command) VALUES (5, 'orch run old.yaml');",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open_existing(&path).unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].command.as_str(), runs[0].cassette.as_deref()), ("orch run old.yaml", None));
    let run = store.begin_run("orch resume", Some("tasks.cassette.jsonl")).unwrap();
    assert_eq!(store.runs().unwrap()[1], run);
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), super::schema::latest());
}

#[test]
fn missing_empty_and_foreign_files_are_told_apart_without_writing_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing/orch.db");
    assert!(matches!(SqliteStore::open_existing(&missing), Err(StoreError::Missing { .. })));
    assert!(!dir.path().join("nothing").exists());
    let foreign = dir.path().join("other.db");
    rusqlite::Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE notes (body TEXT);").unwrap();
    let err = SqliteStore::open_existing(&foreign).err().unwrap();
    assert!(matches!(err, StoreError::NotAStore { .. }) && err.is_usage(), "{err}");
    let before = std::fs::read(&foreign).unwrap();
    let err = SqliteStore::open(&foreign, Synchronous::Normal).err().unwrap();
    assert!(matches!(err, StoreError::NotAStore { .. }), "orch never writes into another program's database: {err}");
    assert_eq!(std::fs::read(&foreign).unwrap(), before);
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    SqliteStore::open(&empty, Synchronous::Normal).expect("an empty file is a store being created");
}

#[test]
fn a_call_is_pending_until_its_result_replaces_it_and_repeated_starts_are_priced() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.add_tasks(&[spec("a")]).unwrap();
    let pending = |starts| JournalEntry::pending("k".into(), "completion", "openai".into(), Some("gpt".into()), starts);
    let write = |entry: JournalEntry| store.commit("a", Some(1), Commit { journal: vec![entry], ..Commit::default() });
    write(pending(1)).unwrap();
    let rows = store.journal("a").unwrap();
    assert_eq!((rows.len(), rows[0].status, rows[0].starts), (1, CallStatus::Pending, 1));
    // A killed run left it in flight: the next run starts it again.
    write(pending(2)).unwrap();
    assert_eq!(store.journal("a").unwrap()[0].starts, 2);
    let done = JournalEntry { starts: 2, repeated: Repeated::estimate(1, 10, 5, 0.5), ..entry("k", 0.5) };
    write(done.clone()).unwrap();
    let rows = store.journal("a").unwrap();
    assert_eq!(rows.len(), 1, "the result replaced the pending row");
    assert_eq!(
        (rows[0].status, rows[0].result["text"].as_str(), rows[0].repeated.calls),
        (CallStatus::Done, Some("hello"), 1)
    );
    let task = store.task("a").unwrap();
    assert_eq!((task.cost_usd, task.repeated_calls, task.repeated_cost_usd), (0.5, 1, 0.5));
    // A result is never replaced, nor counted twice; a late pending row does not reopen it.
    write(JournalEntry { cost_usd: 9.0, ..done }).unwrap();
    write(pending(3)).unwrap();
    let task = store.task("a").unwrap();
    assert_eq!((task.cost_usd, task.repeated_calls), (0.5, 1));
    assert_eq!(store.journal("a").unwrap()[0].status, CallStatus::Done);
    let run = store.run_cost(1).unwrap();
    assert_eq!((run.journaled_usd, run.repeated_calls, run.repeated_usd, run.total_usd()), (0.5, 1, 0.5, 1.0));
    // A call that gave up is marked so; its key can be started again.
    write(JournalEntry::pending("g".into(), "check", "lint".into(), None, 1)).unwrap();
    write(JournalEntry {
        status: CallStatus::Failed,
        ..JournalEntry::pending("g".into(), "check", "lint".into(), None, 1)
    })
    .unwrap();
    assert_eq!(store.journal("a").unwrap()[1].status, CallStatus::Failed);
    let calls = store.calls().unwrap();
    assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), [CallStatus::Done, CallStatus::Failed]);
    assert_eq!(calls[0].repeated.calls, 1);
}

/// Task `a` planned, implementing step s1 with its reply journaled, then failed.
fn failed_in_step(store: &SqliteStore) {
    store.add_tasks(&[spec("a")]).unwrap();
    let (step, step_move) = (step_s1(), s1_move);
    let journaled = |key: &str, at_seq| JournalEntry { at_seq: Some(at_seq), ..entry(key, 0.25) };
    let commits = [
        Commit {
            transitions: vec![task_move(1, TaskState::New, TaskState::Planning)],
            journal: vec![journaled("plan", 1)],
            ..Commit::default()
        },
        Commit {
            transitions: vec![
                task_move(2, TaskState::Planning, TaskState::PlanReview),
                task_move(3, TaskState::PlanReview, TaskState::PlanApproved),
            ],
            new_steps: vec![step],
            ..Commit::default()
        },
        Commit {
            transitions: vec![
                task_move(4, TaskState::PlanApproved, TaskState::Implementing),
                step_move(5, StepState::Pending, StepState::Implementing),
            ],
            journal: vec![journaled("workspace/base", 4), journaled("implement", 5)],
            ..Commit::default()
        },
        Commit {
            transitions: vec![
                step_move(6, StepState::Implementing, StepState::Failed),
                task_move(7, TaskState::Implementing, TaskState::Failed),
            ],
            last_error: Some(Some("the provider is down".into())),
            ..Commit::default()
        },
    ];
    for commit in commits {
        store.commit("a", Some(1), commit).unwrap();
    }
}

fn request(from: RetryFrom) -> RetryRequest {
    RetryRequest { from, comment: Some("outage over".into()), who: "ana".into() }
}

#[test]
fn a_retry_sets_aside_what_follows_its_point_and_keeps_everything_on_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    failed_in_step(&store);
    assert_eq!(store.retry("a", &request(RetryFrom::Stop)).unwrap(), TaskState::Implementing);
    let task = store.task("a").unwrap();
    assert_eq!((task.state, task.seq, task.last_error.as_deref()), (TaskState::Implementing, 8, None));
    let history = store.history("a").unwrap();
    assert_eq!(history.iter().map(|t| t.superseded_by).collect::<Vec<_>>()[5..], [Some(8), Some(8), None]);
    assert_eq!(history[7].comment.as_deref(), Some("outage over"));
    assert!(history[7].message.starts_with("retried from where it stopped by ana"), "{}", history[7].message);
    assert_eq!(store.steps("a").unwrap()[0].state, StepState::Implementing, "the step is back where it was");
    assert!(store.journal("a").unwrap().iter().all(|e| e.superseded_by.is_none()), "every result is reused");
    assert_eq!(store.task("a").unwrap().cost_usd, 0.75);

    // The task goes on from there: the next transition follows the retry.
    let step_move = s1_move(9, StepState::Implementing, StepState::CodeReview);
    store.commit("a", Some(2), Commit { transitions: vec![step_move], ..Commit::default() }).unwrap();
    let err = store.retry("a", &request(RetryFrom::Stop)).unwrap_err();
    assert!(err.to_string().contains("task `a` is IMPLEMENTING: only FAILED or AWAITING_HUMAN"), "{err}");
}

#[test]
fn a_retry_from_a_stage_sets_aside_its_journal_but_not_the_worktrees_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    failed_in_step(&store);
    assert_eq!(store.retry("a", &request(RetryFrom::Implementing)).unwrap(), TaskState::Implementing);
    let journal = store.journal("a").unwrap();
    let aside: Vec<(&str, Option<u64>)> = journal.iter().map(|e| (e.key.as_str(), e.superseded_by)).collect();
    assert_eq!(aside, [("plan", None), ("workspace/base", None), ("implement", Some(8))]);
    assert_eq!(store.steps("a").unwrap()[0].state, StepState::Pending);
    // The key is free again: a new call writes a new row beside the one set aside.
    let again = JournalEntry { at_seq: Some(9), ..entry("implement", 0.25) };
    store.commit("a", Some(2), Commit { journal: vec![again], ..Commit::default() }).unwrap();
    assert_eq!(store.journal("a").unwrap().len(), 4);
    assert_eq!(store.task("a").unwrap().cost_usd, 1.0, "money spent on what was set aside still counts");
    // Exported and imported, nothing is lost.
    let export = store.export_task("a").unwrap();
    let copy = open(&tempfile::tempdir().unwrap());
    copy.import_task(&TaskExport::from_json(&export.to_json()).unwrap()).unwrap();
    assert_eq!(copy.export_task("a").unwrap(), export);

    let never = store.retry("a", &request(RetryFrom::Gate));
    assert!(never.is_err(), "the task is not stopped");
    let fresh = open(&tempfile::tempdir().unwrap());
    failed_in_step(&fresh);
    let err = fresh.retry("a", &request(RetryFrom::Gate)).unwrap_err().to_string();
    assert_eq!(err, "cannot retry task `a`: task `a` never reached QUALITY_GATE; retry it from an earlier stage");
}

#[test]
fn a_schema_2_store_gets_each_journal_entry_placed_after_the_transitions_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orch.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(super::schema::MIGRATIONS[0]).unwrap();
    conn.execute_batch(super::schema::MIGRATIONS[1]).unwrap();
    conn.execute_batch(
        "PRAGMA user_version = 2;
         INSERT INTO tasks (id, position, spec, state, seq, created_ms, updated_ms, cost_usd)
           VALUES ('a', 0, '{\"id\":\"a\",\"goal\":\"g\"}', 'PLAN_REVIEW', 2, 1, 1, 0.5);
         INSERT INTO events (task_id, seq, at_ms, category, status, message, from_state, to_state, actor)
           VALUES ('a', 1, 100, 'task', 'info', '', 'NEW', 'PLANNING', 'engine'),
                  ('a', 2, 200, 'task', 'info', '', 'PLANNING', 'PLAN_REVIEW', 'engine');
         INSERT INTO journal (task_id, key, kind, plugin, result, text, input_tokens, output_tokens, cost_usd,
                              duration_ms, at_ms)
           VALUES ('a', 'plan', 'completion', 'p 1', '{}', 'the plan', 1, 1, 0.25, 1, 200),
                  ('a', 'review', 'completion', 'p 1', '{}', 'ok', 1, 1, 0.25, 1, 300);",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, Synchronous::Normal).unwrap();
    let journal = store.journal("a").unwrap();
    assert_eq!(journal.iter().map(|e| e.at_seq).collect::<Vec<_>>(), [Some(1), Some(2)]);
    assert!(journal.iter().all(|e| e.status == CallStatus::Done && e.starts == 1));
    assert_eq!(journal[0].result["text"], "the plan");
    let task = store.task("a").unwrap();
    assert_eq!((task.cost_usd, task.repeated_calls), (0.5, 0));
}
