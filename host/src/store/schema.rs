//! The SQLite schema, as an ordered list of migrations. The database's
//! `user_version` says how many have been applied; opening a store applies
//! the missing ones in one transaction and refuses a file from a newer orch.
//! Released migrations are never edited: a change is a new entry.

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`.
pub const MIGRATIONS: &[&str] = &[
    // 1: tasks, steps, events, journal, runs. Rows that can be large (tasks,
    // journal) live in rowid tables, which store big rows compactly.
    "
    CREATE TABLE tasks (
        id          TEXT NOT NULL UNIQUE,
        position    INTEGER NOT NULL,
        spec        TEXT NOT NULL,
        state       TEXT NOT NULL,
        seq         INTEGER NOT NULL DEFAULT 0,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        cost_usd    REAL NOT NULL DEFAULT 0,
        last_error  TEXT,
        meta        TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX tasks_by_state ON tasks (state);

    CREATE TABLE steps (
        task_id     TEXT NOT NULL,
        idx         INTEGER NOT NULL,
        id          TEXT NOT NULL,
        kind        TEXT NOT NULL,
        description TEXT NOT NULL,
        state       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (task_id, idx)
    ) WITHOUT ROWID;

    -- Append-only. Transitions carry their per-task seq, the states they
    -- move between and who moved them; other events have no seq.
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER,
        task_id     TEXT,
        seq         INTEGER,
        at_ms       INTEGER NOT NULL,
        category    TEXT NOT NULL,
        status      TEXT NOT NULL,
        step        TEXT,
        message     TEXT NOT NULL,
        from_state  TEXT,
        to_state    TEXT,
        actor       TEXT,
        comment     TEXT
    );
    CREATE UNIQUE INDEX events_by_task_seq ON events (task_id, seq) WHERE seq IS NOT NULL;

    -- Results of effectful calls. A completion's text is kept apart from the
    -- rest of its record so it is stored as written, not JSON-escaped.
    CREATE TABLE journal (
        id            INTEGER PRIMARY KEY,
        task_id       TEXT NOT NULL,
        key           TEXT NOT NULL,
        run_id        INTEGER,
        kind          TEXT NOT NULL,
        plugin        TEXT NOT NULL,
        model         TEXT,
        result        TEXT NOT NULL,
        text          TEXT,
        input_tokens  INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd      REAL NOT NULL,
        duration_ms   INTEGER NOT NULL,
        at_ms         INTEGER NOT NULL,
        UNIQUE (task_id, key)
    );

    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        started_ms  INTEGER NOT NULL,
        finished_ms INTEGER,
        command     TEXT NOT NULL
    );
    ",
    // 2: the cassette a run replayed from or recorded to, so `orch resume`
    // goes on with the same one.
    "ALTER TABLE runs ADD COLUMN cassette TEXT;",
];

/// The schema version this build writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}
