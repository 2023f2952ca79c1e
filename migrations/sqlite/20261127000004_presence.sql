-- When Podium was connected to a network that keeps no history (IRC):
-- answers sent there while it was not are lost, and transcripts say so.
-- Presence is recorded, not absence, so that a crash (which records
-- nothing) still shows: one row per connection, begun when the connection
-- is up and `until` moved forward every 30 s and once more when it is lost
-- or Podium stops. Absences are the parts of a debate not covered by any
-- row of its network.
CREATE TABLE presence (
    id      INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    since   TEXT NOT NULL,
    until   TEXT NOT NULL
);
CREATE INDEX presence_network ON presence (network, since);

-- How long the occurrence was scheduled to last and how long after its
-- closing answers were collected, as they stood when it was created, so a
-- transcript knows the span to look for absences in without the
-- configuration. NULL for older occurrences.
ALTER TABLE occurrences ADD COLUMN duration_seconds INTEGER;
ALTER TABLE occurrences ADD COLUMN collect_grace_seconds INTEGER;
