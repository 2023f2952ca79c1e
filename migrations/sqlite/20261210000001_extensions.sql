-- `!extend`: an organiser gave a running debate more time. Each one moves
-- what was still to come at `at` by `seconds` (docs: README, "In the chat
-- room"); the occurrence's `duration_seconds` grows by the same, so its
-- transcript's end is right without reading this table.
CREATE TABLE extensions (
    occurrence_id INTEGER NOT NULL REFERENCES occurrences (id),
    at            TEXT NOT NULL,
    seconds       INTEGER NOT NULL,
    PRIMARY KEY (occurrence_id, at)
);
