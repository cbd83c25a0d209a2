-- The entries table again, without the `length(...) = 32` CHECKs on its id
-- columns. Every other rule stays, in the database: the primary key, the
-- UNIQUE token id, the known kinds, a token's subject, a revocation's
-- target, one revocation and one supersession per token, and the triggers
-- that make the table append-only.
--
-- Why: a CHECK that calls a function makes SQLite treat every multi-row
-- INSERT into the table as one that may abort halfway, so it keeps a
-- statement journal of every page the INSERT touches (an in-memory copy of
-- each, in 1 KiB pieces), even under INSERT OR ROLLBACK. For the writer of
-- the log that was 12 % of its time (one random token-id index page per
-- entry), and without it the service issues about 10 % more tokens per
-- second (docs/performance.md). The lengths are still checked: every id is
-- a `[u8; 32]` in the code that writes it, and a stored id of another
-- length reads back as a corrupt store, never as a token id.
--
-- PostgreSQL keeps its length CHECKs (they cost nothing there).
--
-- The rebuild copies the table once (SQLite cannot drop a CHECK in place):
-- on a large log this first start after the upgrade takes a while and
-- needs the table's size again in free disk space.

CREATE TABLE entries_rebuilt (
    leaf_index  INTEGER PRIMARY KEY CHECK (leaf_index >= 0),
    token_id    BLOB    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('token', 'revocation')),
    iss         TEXT    NOT NULL,
    sub         TEXT,
    supersedes  BLOB,
    revokes     BLOB,
    statement   BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    CHECK ((kind = 'token' AND sub IS NOT NULL AND revokes IS NULL)
        OR (kind = 'revocation' AND sub IS NULL AND supersedes IS NULL AND revokes IS NOT NULL))
);

INSERT INTO entries_rebuilt
    (leaf_index, token_id, kind, iss, sub, supersedes, revokes, statement, created_at)
SELECT leaf_index, token_id, kind, iss, sub, supersedes, revokes, statement, created_at
FROM entries ORDER BY leaf_index;

-- Drops the old table's indexes and triggers with it (DROP TABLE fires no
-- DELETE trigger).
DROP TABLE entries;
ALTER TABLE entries_rebuilt RENAME TO entries;

CREATE INDEX entries_subject ON entries (iss, sub);
CREATE UNIQUE INDEX entries_revokes ON entries (revokes) WHERE revokes IS NOT NULL;
CREATE UNIQUE INDEX entries_supersedes ON entries (supersedes) WHERE supersedes IS NOT NULL;

CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN
    SELECT RAISE(ABORT, 'entries are append-only: UPDATE refused');
END;

CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN
    SELECT RAISE(ABORT, 'entries are append-only: DELETE refused');
END;
