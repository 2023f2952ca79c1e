-- What Podium remembers about a person across debates: the time zone they
-- chose with `!tz` (issue 19). Keyed by the sender id Podium uses
-- everywhere (`@user:server`, `irc:account`, `irc:~nick`, `irc:nick`).
-- `used_at` moves each time the zone is read, and retention removes rows
-- unused since its cutoff, as it does old answers.
CREATE TABLE people (
    person_id TEXT PRIMARY KEY,
    zone      TEXT NOT NULL,
    used_at   TEXT NOT NULL
);
