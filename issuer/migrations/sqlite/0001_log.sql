-- Loupe issuer log schema (SQLite). Keep the semantics identical to
-- migrations/postgres/0001_log.sql.

-- Every leaf of the Merkle log, in order: a token or a revocation, with the
-- exact logged bytes. Append-only: the triggers below refuse UPDATE and DELETE.
CREATE TABLE entries (
    leaf_index  INTEGER PRIMARY KEY CHECK (leaf_index >= 0),
    token_id    BLOB    NOT NULL UNIQUE CHECK (length(token_id) = 32),
    kind        TEXT    NOT NULL CHECK (kind IN ('token', 'revocation')),
    iss         TEXT    NOT NULL,
    sub         TEXT,
    supersedes  BLOB CHECK (supersedes IS NULL OR length(supersedes) = 32),
    revokes     BLOB CHECK (revokes IS NULL OR length(revokes) = 32),
    statement   BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    CHECK ((kind = 'token' AND sub IS NOT NULL AND revokes IS NULL)
        OR (kind = 'revocation' AND sub IS NULL AND supersedes IS NULL AND revokes IS NOT NULL))
);

-- The current token of a stone: the latest token for (iss, sub). SQLite
-- appends the rowid (leaf_index) to every index entry, so
-- `ORDER BY leaf_index DESC LIMIT 1` is one index probe.
CREATE INDEX entries_subject ON entries (iss, sub);
-- A token is revoked at most once and superseded at most once.
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

-- C2SP tlog-tiles hash tiles, one row per tile: the widest version written.
-- A partial tile grows in place; its existing hashes never change.
CREATE TABLE tiles (
    level       INTEGER NOT NULL CHECK (level >= 0 AND level <= 63),
    tile_index  INTEGER NOT NULL CHECK (tile_index >= 0),
    width       INTEGER NOT NULL CHECK (width >= 1 AND width <= 256),
    data        BLOB    NOT NULL CHECK (length(data) = 32 * width),
    PRIMARY KEY (level, tile_index)
) WITHOUT ROWID;

CREATE TRIGGER tiles_only_grow BEFORE UPDATE ON tiles
WHEN NEW.level <> OLD.level OR NEW.tile_index <> OLD.tile_index
  OR NEW.width < OLD.width OR substr(NEW.data, 1, length(OLD.data)) <> OLD.data
BEGIN
    SELECT RAISE(ABORT, 'tiles only grow: existing hashes are immutable');
END;

CREATE TRIGGER tiles_no_delete BEFORE DELETE ON tiles
BEGIN
    SELECT RAISE(ABORT, 'tiles are append-only: DELETE refused');
END;

-- Signed checkpoints (C2SP tlog-checkpoint signed notes), one per batch.
CREATE TABLE checkpoints (
    tree_size   INTEGER PRIMARY KEY CHECK (tree_size >= 0),
    root        BLOB    NOT NULL CHECK (length(root) = 32),
    note        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: UPDATE refused');
END;

CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: DELETE refused');
END;

-- Lab API keys, stored only as a hash of the secret.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    issuer      TEXT    NOT NULL,
    key_hash    BLOB    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
