-- Questions from the floor: during a running debate participants propose
-- questions (`!propose TEXT`), numbered P1, P2... per occurrence (shared by
-- all its rooms and networks), and vote for them (`!vote P2`, one vote per
-- person, withdrawn with `!unvote P2`); an organiser asks one (`!ask P2`),
-- which records the question number it was asked as (`asked_as`). The
-- message that proposed one is unique, so a replayed event stores nothing
-- twice; a person has at most one open (not yet asked) proposal per
-- occurrence; deleting the message withdraws the proposal. Retention removes both tables' rows with the answers of the
-- same occurrences.
CREATE TABLE proposals (
    id            INTEGER PRIMARY KEY,
    occurrence_id INTEGER NOT NULL REFERENCES occurrences (id),
    number        INTEGER NOT NULL,
    text          TEXT NOT NULL,
    -- The sender id Podium uses everywhere (`@user:server`, `irc:account`...)
    -- and the display name it had.
    proposer_id   TEXT NOT NULL,
    proposer_name TEXT NOT NULL,
    -- matrix | irc
    network       TEXT NOT NULL,
    room          TEXT NOT NULL,
    -- The id of the message that proposed it.
    network_id    TEXT NOT NULL,
    proposed_at   TEXT NOT NULL,
    asked_as      INTEGER,
    -- When the proposer (or a moderator) deleted the message that made it,
    -- before it was asked: its text and name are erased then, its number
    -- stays used, and its votes go.
    withdrawn_at  TEXT,
    UNIQUE (occurrence_id, number),
    UNIQUE (network, room, network_id)
);
CREATE UNIQUE INDEX proposals_open ON proposals (occurrence_id, proposer_id)
    WHERE asked_as IS NULL AND withdrawn_at IS NULL;

-- One vote per person and proposal. `network_id` is the Matrix reaction
-- that cast it, so redacting the reaction withdraws the vote; NULL for a
-- vote cast with `!vote`.
CREATE TABLE votes (
    proposal_id INTEGER NOT NULL REFERENCES proposals (id),
    voter_id    TEXT NOT NULL,
    at          TEXT NOT NULL,
    network_id  TEXT,
    PRIMARY KEY (proposal_id, voter_id)
);
CREATE INDEX votes_network_id ON votes (network_id);
