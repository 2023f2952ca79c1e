-- `!extend`: an organiser gave a running debate more time. Each one moves
-- what was still to come at `at` by `seconds` (docs: README, "In the chat
-- room"); the occurrence's `duration_seconds` grows by the same, so its
-- transcript's end is right without reading this table.
CREATE TABLE extensions (
    occurrence_id bigint NOT NULL REFERENCES occurrences (id),
    at            timestamptz NOT NULL,
    seconds       bigint NOT NULL,
    PRIMARY KEY (occurrence_id, at)
);
