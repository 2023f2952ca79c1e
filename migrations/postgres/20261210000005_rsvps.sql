-- RSVPs (issue 19): who registered for an occurrence (`!rsvp DEBATE`, or a
-- ✅ on its announcement on Matrix), to be reminded personally at the
-- debate's shortest reminder. `reminded_at` is set when the reminder is
-- claimed, before it is sent: a crash then loses one rather than sending
-- it twice. Retention removes them with the answers; `!forget` at once.
CREATE TABLE rsvps (
    occurrence_id bigint NOT NULL REFERENCES occurrences (id),
    person_id     text NOT NULL,
    -- The name or nick last seen, for IRC (a NOTICE goes to a nick).
    name          text NOT NULL,
    network       text NOT NULL,
    -- The ✅ reaction that made it, so removing the reaction undoes it.
    network_id    text,
    registered_at timestamptz NOT NULL,
    reminded_at   timestamptz,
    PRIMARY KEY (occurrence_id, person_id)
);
CREATE INDEX rsvps_person ON rsvps (person_id);
