-- Debates started in a room with `!debate TITLE` (issue 19): they have no
-- entry in debates.yaml, so what makes one is kept here, to carry it
-- across a restart; its occurrence, posts and answers are stored like any
-- other's, under the debate id given here.
CREATE TABLE adhoc (
    debate    text PRIMARY KEY,
    title     text NOT NULL,
    room      text NOT NULL,
    timezone  text NOT NULL,
    starts_at timestamptz NOT NULL,
    -- How long it may run at most (`!end` closes it sooner).
    seconds   bigint NOT NULL
);
