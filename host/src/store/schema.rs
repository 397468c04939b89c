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
    // 3: calls in flight and repeated calls; retries that set history aside.
    // A journal row is `pending` from before its call starts until its
    // result replaces it (`done`), or `failed` when the call gave up;
    // `starts` counts how often the call was started (more than once when a
    // killed run left it in flight), and `repeated_*` what the lost starts
    // cost, estimated from the call that answered. `at_seq` is how far the
    // task's history had got when the call was made, so a retry can set
    // aside what came after a point (`superseded_by`, the retry's seq), and
    // a key is unique only among the rows not set aside. Rows written
    // before this version get `at_seq` from their time: the newest
    // transition committed strictly before them.
    "
    CREATE TABLE journal_v3 (
        id                     INTEGER PRIMARY KEY,
        task_id                TEXT NOT NULL,
        key                    TEXT NOT NULL,
        run_id                 INTEGER,
        kind                   TEXT NOT NULL,
        plugin                 TEXT NOT NULL,
        model                  TEXT,
        result                 TEXT NOT NULL,
        text                   TEXT,
        input_tokens           INTEGER NOT NULL,
        output_tokens          INTEGER NOT NULL,
        cost_usd               REAL NOT NULL,
        duration_ms            INTEGER NOT NULL,
        at_ms                  INTEGER NOT NULL,
        status                 TEXT NOT NULL DEFAULT 'done',
        started_ms             INTEGER,
        starts                 INTEGER NOT NULL DEFAULT 1,
        repeated_calls         INTEGER NOT NULL DEFAULT 0,
        repeated_input_tokens  INTEGER NOT NULL DEFAULT 0,
        repeated_output_tokens INTEGER NOT NULL DEFAULT 0,
        repeated_cost_usd      REAL NOT NULL DEFAULT 0,
        at_seq                 INTEGER,
        superseded_by          INTEGER
    );
    INSERT INTO journal_v3 (id, task_id, key, run_id, kind, plugin, model, result, text, input_tokens,
                            output_tokens, cost_usd, duration_ms, at_ms, at_seq)
    SELECT j.id, j.task_id, j.key, j.run_id, j.kind, j.plugin, j.model, j.result, j.text, j.input_tokens,
           j.output_tokens, j.cost_usd, j.duration_ms, j.at_ms,
           (SELECT COALESCE(MAX(e.seq), 0) FROM events e
             WHERE e.task_id = j.task_id AND e.seq IS NOT NULL AND e.at_ms < j.at_ms)
    FROM journal j;
    DROP TABLE journal;
    ALTER TABLE journal_v3 RENAME TO journal;
    CREATE UNIQUE INDEX journal_live_key ON journal (task_id, key) WHERE superseded_by IS NULL;
    CREATE INDEX journal_by_task ON journal (task_id, id);
    ALTER TABLE events ADD COLUMN superseded_by INTEGER;
    ALTER TABLE tasks ADD COLUMN repeated_calls INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN repeated_cost_usd REAL NOT NULL DEFAULT 0;
    ",
    // 4: how each round of a stage went, per model, for routers' history:
    // `unit` is what the rounds belong to (the step, or `-`, and the task's
    // retries), `accepted` whether the round's result was (a plan or change
    // the reviewer approved, a verdict that could be read). Written once per
    // round (a replayed walk writes the same key again, which is ignored).
    "
    CREATE TABLE outcomes (
        task_id    TEXT NOT NULL,
        role       TEXT NOT NULL,
        unit       TEXT NOT NULL,
        round      INTEGER NOT NULL,
        area       TEXT NOT NULL,
        risk       TEXT NOT NULL,
        provider   TEXT NOT NULL,
        model      TEXT NOT NULL,
        accepted   INTEGER NOT NULL,
        cost_usd   REAL NOT NULL,
        latency_ms INTEGER NOT NULL,
        at_ms      INTEGER NOT NULL,
        PRIMARY KEY (task_id, role, unit, round)
    );
    CREATE INDEX outcomes_by_stage ON outcomes (role, area, risk, provider, model);
    ",
];

/// The schema version this build writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}
