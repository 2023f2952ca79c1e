-- Debates started in a room with `!debate TITLE` (issue 19): they have no
-- entry in debates.yaml, so what makes one is kept here, to carry it
-- across a restart; its occurrence, posts and answers are stored like any
-- other's, under the debate id given here.
CREATE TABLE adhoc (
    debate    TEXT PRIMARY KEY,
    title     TEXT NOT NULL,
    room      TEXT NOT NULL,
    timezone  TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    -- How long it may run at most (`!end` closes it sooner).
    seconds   INTEGER NOT NULL
);
