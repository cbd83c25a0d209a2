-- The token-id index moves out of `entries` into `token_ids`, which the
-- issuer fills in large sorted merges instead of one random insert per
-- entry (SQLite only; PostgreSQL keeps its UNIQUE index on entries).
--
-- Why: token ids are SHA-256 values, so a B-tree keyed by them takes every
-- new entry at a random leaf page. Once the index is larger than a batch,
-- every entry dirties a page of its own, and SQLite writes whole pages to
-- the WAL at every commit and again to the database file at every
-- checkpoint: 8 to 16 KB per token on a log of a few hundred thousand
-- entries, and the reason the service's rate fell as the log grew
-- (docs/performance.md). Entries past the last merge (at most a few tens
-- of thousands) are found through an in-memory map of the issuer and,
-- from any other connection, through a range scan of `entries` above
-- `token_id_merges`'s latest size. A merge inserts the ids of that range
-- in token-id order, a slice of the key space per transaction, so a slice
-- dirties each page of its part of the index once for hundreds of entries.
--
-- Uniqueness of token ids: the PRIMARY KEY of `token_ids` refuses a second
-- leaf for an id once merged; the sequencer refuses a repeated token before
-- it is logged, and the store refuses a batch that repeats an id of the
-- unmerged range. The rebuild of `entries` below (SQLite cannot drop a
-- UNIQUE constraint in place) copies the table once: the first start after
-- the upgrade of a large log takes a while and needs the table's size again
-- in free disk space. Every other rule of `entries` stays as in 0002.

CREATE TABLE entries_rebuilt (
    leaf_index  INTEGER PRIMARY KEY CHECK (leaf_index >= 0),
    token_id    BLOB    NOT NULL,
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

-- Token id -> leaf index of every entry below the latest merged size.
CREATE TABLE token_ids (
    token_id    BLOB    NOT NULL PRIMARY KEY,
    leaf_index  INTEGER NOT NULL CHECK (leaf_index >= 0)
) WITHOUT ROWID;

CREATE TRIGGER token_ids_no_update BEFORE UPDATE ON token_ids
BEGIN
    SELECT RAISE(ABORT, 'token_ids is append-only: UPDATE refused');
END;

CREATE TRIGGER token_ids_no_delete BEFORE DELETE ON token_ids
BEGIN
    SELECT RAISE(ABORT, 'token_ids is append-only: DELETE refused');
END;

-- Each completed merge: every entry below `merged_size` is in token_ids.
CREATE TABLE token_id_merges (
    merged_size INTEGER PRIMARY KEY CHECK (merged_size >= 0),
    created_at  INTEGER NOT NULL
);

CREATE TRIGGER token_id_merges_no_update BEFORE UPDATE ON token_id_merges
BEGIN
    SELECT RAISE(ABORT, 'token_id_merges is append-only: UPDATE refused');
END;

CREATE TRIGGER token_id_merges_no_delete BEFORE DELETE ON token_id_merges
BEGIN
    SELECT RAISE(ABORT, 'token_id_merges is append-only: DELETE refused');
END;

-- The existing log, merged at once.
INSERT INTO token_ids (token_id, leaf_index)
SELECT token_id, leaf_index FROM entries ORDER BY token_id;

INSERT INTO token_id_merges (merged_size, created_at)
SELECT COALESCE(MAX(leaf_index) + 1, 0), CAST(strftime('%s', 'now') AS INTEGER) FROM entries;
