-- Transcripts on the web. An occurrence is private unless its debate says
-- `public: true`; a private transcript's address carries `token`, 128
-- random bits in hex, so it cannot be guessed. `zones` (a JSON array of
-- IANA names) are the zones its page shows the start in. Occurrences from
-- before this migration get a token now and show their own zone.
ALTER TABLE occurrences ADD COLUMN public INTEGER NOT NULL DEFAULT 0;
ALTER TABLE occurrences ADD COLUMN token TEXT;
ALTER TABLE occurrences ADD COLUMN zones TEXT;
-- When the retention period removed its answers.
ALTER TABLE occurrences ADD COLUMN purged_at TEXT;
UPDATE occurrences SET token = lower(hex(randomblob(16))) WHERE token IS NULL;

-- The message a reply answers (a network id), so a page can show an
-- answer under the answer it replies to.
ALTER TABLE replies ADD COLUMN in_reply_to TEXT;
