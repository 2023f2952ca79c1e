-- The columns the PostgreSQL store gained for replicas, so both schemas
-- stay one: replicas themselves need PostgreSQL (docs/replicas.md), and a
-- Podium on SQLite leaves these as they are written here.

-- Who claimed a post, and under which lease epoch.
ALTER TABLE posts ADD COLUMN holder TEXT;
ALTER TABLE posts ADD COLUMN epoch INTEGER;

-- Whether the debate's leader stored the answer (always, on SQLite).
ALTER TABLE replies ADD COLUMN led INTEGER NOT NULL DEFAULT 1;

-- Network cursors per replica; '' is a Podium without replicas.
CREATE TABLE cursors_new (
    replica    TEXT NOT NULL DEFAULT '',
    network    TEXT NOT NULL,
    position   TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (replica, network)
);
INSERT INTO cursors_new (replica, network, position, updated_at)
    SELECT '', network, position, updated_at FROM cursors;
DROP TABLE cursors;
ALTER TABLE cursors_new RENAME TO cursors;
