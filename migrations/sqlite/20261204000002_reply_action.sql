-- Whether a reply was an action (`/me waves`: IRC's CTCP ACTION, Matrix's
-- `m.emote`), so every view of the transcript can show it as one. Older
-- replies were stored as plain messages (their text lost the difference).
ALTER TABLE replies ADD COLUMN action INTEGER NOT NULL DEFAULT 0;
