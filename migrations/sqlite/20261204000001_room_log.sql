-- The raw log of a room around its debates (`/transcripts/DEBATE/DATE.log`)
-- merges three tables: Podium's own posts (`posts`), the answers
-- (`replies`) and, here, what else people said in the room: commands,
-- chatter before the intro, thanks after the closing. Lines are kept only
-- within a debate's window (from 10 minutes before its start to the end
-- of its collection), are erased as answers are (a removal empties `body`
-- and `sender_name` and keeps the row so a re-delivered message is not
-- stored again; retention deletes the rows), and come from no ignored
-- sender.
CREATE TABLE room_log (
    id          INTEGER PRIMARY KEY,
    network     TEXT NOT NULL,
    room        TEXT NOT NULL,
    network_id  TEXT NOT NULL,
    sender_id   TEXT NOT NULL,
    sender_name TEXT NOT NULL,
    body        TEXT NOT NULL,
    -- 1 for an action (`/me waves`, Matrix `m.emote`).
    action      INTEGER NOT NULL DEFAULT 0,
    -- When it was said: the network's time where it gives one.
    at          TEXT NOT NULL,
    edited_at   TEXT,
    deleted_at  TEXT,
    UNIQUE (network, room, network_id)
);
CREATE INDEX room_log_room_at ON room_log (room, at);

-- The same log reads answers and posts by room and time.
CREATE INDEX replies_room_at ON replies (room, coalesce(server_ts, received_at));
CREATE INDEX posts_room_sent ON posts (room, sent_at);

-- From this version on an edit replaces `replies.original_body` too (the
-- first text is not kept once changed), and a removal empties `body`,
-- `original_body` and `sender_name`.
