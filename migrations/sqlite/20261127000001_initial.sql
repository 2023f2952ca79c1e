-- Podium's store. Times are UTC RFC 3339 text with milliseconds and a `Z`
-- (fixed width, so they sort as text). Migrations are append-only: fix
-- forward in a new file, never edit one that has been released.

-- One occurrence of a debate, identified by its debate id and scheduled
-- start: a debate that crosses midnight is still one occurrence.
CREATE TABLE occurrences (
    id              INTEGER PRIMARY KEY,
    debate          TEXT NOT NULL,
    scheduled_start TEXT NOT NULL,
    title           TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    -- Seconds the timeline moved when an organiser said `!start` early or late.
    shift_seconds   INTEGER NOT NULL DEFAULT 0,
    -- Set by `!end`: the closing is then due at this instant.
    ended_at        TEXT,
    -- Rehearsals (`podium rehearse`) run on a compressed clock: real instant
    -- and speed let a restarted rehearsal resume on the same virtual time line.
    rehearsal       INTEGER NOT NULL DEFAULT 0,
    clock_real_base TEXT,
    clock_speed     REAL,
    created_at      TEXT NOT NULL,
    UNIQUE (debate, scheduled_start)
);

-- Every post the bot makes. The unique key makes posting idempotent: a
-- given item of an occurrence is posted in a given room once, ever. A row is
-- written as 'sending' before the network is asked, and 'sent' after.
CREATE TABLE posts (
    id            INTEGER PRIMARY KEY,
    occurrence_id INTEGER NOT NULL REFERENCES occurrences (id),
    room          TEXT NOT NULL,
    -- reminder | intro | question | closing | transcript
    kind          TEXT NOT NULL,
    -- Question number; reminder lead time in seconds; 0 otherwise.
    seq           INTEGER NOT NULL,
    body          TEXT NOT NULL,
    -- For questions: the question text without the "Q1:" decoration.
    question_text TEXT,
    due_at        TEXT NOT NULL,
    sent_at       TEXT,
    late          INTEGER NOT NULL DEFAULT 0,
    -- sending | sent | skipped | unknown (crashed mid-send on a network
    -- that cannot deduplicate) | failed
    status        TEXT NOT NULL,
    network_id    TEXT,
    UNIQUE (occurrence_id, room, kind, seq)
);
CREATE INDEX posts_network_id ON posts (room, network_id);

-- Every reply collected, with the question it is attributed to.
CREATE TABLE replies (
    id            INTEGER PRIMARY KEY,
    occurrence_id INTEGER NOT NULL REFERENCES occurrences (id),
    network       TEXT NOT NULL,
    room          TEXT NOT NULL,
    sender_id     TEXT NOT NULL,
    sender_name   TEXT NOT NULL,
    -- The body as first received, and as it stands after edits.
    original_body TEXT NOT NULL,
    body          TEXT NOT NULL,
    -- NULL: before Q1 (answers to the intro).
    question      INTEGER,
    -- tag | reply | latest | intro
    attributed_by TEXT NOT NULL,
    network_id    TEXT NOT NULL,
    server_ts     TEXT,
    received_at   TEXT NOT NULL,
    edited_at     TEXT,
    deleted_at    TEXT,
    UNIQUE (network, room, network_id)
);
CREATE INDEX replies_occurrence ON replies (occurrence_id, question);

-- Where each network resumes from (the Matrix sync token, say). Written in
-- the same transaction as the replies it covers, never before them.
CREATE TABLE cursors (
    network    TEXT PRIMARY KEY,
    position   TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Commands already handled, so one delivered again after a crash (a Matrix
-- sync replayed from the saved token, say) is not applied twice.
CREATE TABLE handled_commands (
    network    TEXT NOT NULL,
    room       TEXT NOT NULL,
    network_id TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    PRIMARY KEY (network, room, network_id)
);
