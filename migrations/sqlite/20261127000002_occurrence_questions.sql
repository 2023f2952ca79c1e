-- The scheduled questions of an occurrence as they stood when it was
-- created (a JSON array of texts), so a transcript can show an answer to a
-- question that was never asked (the debate ended first) under its number
-- and text, whatever the schedule says later. NULL for older occurrences.
ALTER TABLE occurrences ADD COLUMN questions TEXT;
