-- Replicas: several `podium run` processes sharing this database, each
-- debate led by one of them at a time (docs/replicas.md).

-- The replicas that have run against this database. A replica is live
-- while its `seen_at` is within its lease time; `session` is drawn at each
-- start. `home` names the replica's data directory (an id kept there): a
-- process restarted on the same directory takes its name over at once (the
-- directory's lock proves the old one gone), while a second live process
-- elsewhere under the same name is refused.
CREATE TABLE replicas (
    name       text PRIMARY KEY,
    session    text NOT NULL,
    home       text NOT NULL,
    started_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL,
    ttl_ms     bigint NOT NULL,
    stopped_at timestamptz
);

-- One lease per debate of the schedule (all its occurrences and rooms):
-- only its holder posts for it and answers commands in its rooms. A lease
-- lasts while its holder is live (its `replicas.seen_at` within its
-- `ttl_ms`): renewing every lease a replica holds is its one heartbeat,
-- whatever their number. `epoch` grows at each change of holder; a post is
-- handed to a network only while its claimant holds the lease at that
-- epoch and is live. Times are the database's own clock, so replicas'
-- clocks need not agree.
CREATE TABLE leases (
    debate text PRIMARY KEY,
    holder text,
    epoch  bigint NOT NULL DEFAULT 0
);
CREATE INDEX leases_holder ON leases (holder);

-- Who claimed a post, and under which lease epoch: a claim left `sending`
-- by another holder is never sent again (see docs/replicas.md).
ALTER TABLE posts ADD COLUMN holder text;
ALTER TABLE posts ADD COLUMN epoch bigint;

-- Whether the replica leading the debate stored the answer: every replica
-- stores what it receives, the first copy wins, and the leader's copy then
-- corrects the question it was filed under (it knows the time line
-- exactly; the others learn it from the store).
ALTER TABLE replies ADD COLUMN led boolean NOT NULL DEFAULT true;

-- Network cursors are each replica's own (a Matrix sync token belongs to
-- one device); '' is a Podium without replicas.
ALTER TABLE cursors ADD COLUMN replica text NOT NULL DEFAULT '';
ALTER TABLE cursors DROP CONSTRAINT cursors_pkey;
ALTER TABLE cursors ADD PRIMARY KEY (replica, network);
