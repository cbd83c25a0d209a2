-- Loupe issuer log schema (PostgreSQL). Keep the semantics identical to
-- migrations/sqlite/0001_log.sql.

-- Every leaf of the Merkle log, in order: a token or a revocation, with the
-- exact logged bytes. Append-only: the triggers below refuse UPDATE and DELETE.
CREATE TABLE entries (
    leaf_index  BIGINT PRIMARY KEY CHECK (leaf_index >= 0),
    token_id    BYTEA  NOT NULL UNIQUE CHECK (length(token_id) = 32),
    kind        TEXT   NOT NULL CHECK (kind IN ('token', 'revocation')),
    iss         TEXT   NOT NULL,
    sub         TEXT,
    supersedes  BYTEA CHECK (supersedes IS NULL OR length(supersedes) = 32),
    revokes     BYTEA CHECK (revokes IS NULL OR length(revokes) = 32),
    statement   BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL,
    CHECK ((kind = 'token' AND sub IS NOT NULL AND revokes IS NULL)
        OR (kind = 'revocation' AND sub IS NULL AND supersedes IS NULL AND revokes IS NOT NULL))
);

-- The current token of a stone: the latest token for (iss, sub).
CREATE INDEX entries_subject ON entries (iss, sub, leaf_index);
-- A token is revoked at most once and superseded at most once.
CREATE UNIQUE INDEX entries_revokes ON entries (revokes) WHERE revokes IS NOT NULL;
CREATE UNIQUE INDEX entries_supersedes ON entries (supersedes) WHERE supersedes IS NOT NULL;

CREATE FUNCTION loupe_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION loupe_refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION loupe_refuse_change();

-- C2SP tlog-tiles hash tiles, one row per tile: the widest version written.
-- A partial tile grows in place; its existing hashes never change.
CREATE TABLE tiles (
    level       SMALLINT NOT NULL CHECK (level >= 0 AND level <= 63),
    tile_index  BIGINT   NOT NULL CHECK (tile_index >= 0),
    width       INTEGER  NOT NULL CHECK (width >= 1 AND width <= 256),
    data        BYTEA    NOT NULL CHECK (length(data) = 32 * width),
    PRIMARY KEY (level, tile_index)
);

CREATE FUNCTION loupe_tiles_only_grow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.level <> OLD.level OR NEW.tile_index <> OLD.tile_index
       OR NEW.width < OLD.width
       OR substring(NEW.data FROM 1 FOR length(OLD.data)) <> OLD.data THEN
        RAISE EXCEPTION 'tiles only grow: existing hashes are immutable'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER tiles_only_grow BEFORE UPDATE ON tiles
    FOR EACH ROW EXECUTE FUNCTION loupe_tiles_only_grow();
CREATE TRIGGER tiles_no_delete BEFORE DELETE ON tiles
    FOR EACH ROW EXECUTE FUNCTION loupe_refuse_change();
CREATE TRIGGER tiles_no_truncate BEFORE TRUNCATE ON tiles
    FOR EACH STATEMENT EXECUTE FUNCTION loupe_refuse_change();

-- Signed checkpoints (C2SP tlog-checkpoint signed notes), one per batch.
CREATE TABLE checkpoints (
    tree_size   BIGINT PRIMARY KEY CHECK (tree_size >= 0),
    root        BYTEA  NOT NULL CHECK (length(root) = 32),
    note        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION loupe_refuse_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION loupe_refuse_change();

-- Lab API keys, stored only as a hash of the secret.
CREATE TABLE api_keys (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT   NOT NULL,
    issuer      TEXT   NOT NULL,
    key_hash    BYTEA  NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
