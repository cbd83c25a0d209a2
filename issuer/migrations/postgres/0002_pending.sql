-- Scale-out (PostgreSQL only): submissions that an issuer instance which
-- does not sequence hands to the one that does (it holds the advisory lock).
-- The submitting instance inserts a row and NOTIFYs `loupe_pending`; the
-- sequencing instance logs the statement in its ordinary batches, writes the
-- outcome back (leaf index and the checkpoint size proving it, or the typed
-- refusal) and NOTIFYs `loupe_done` with the submitting instance's id, which
-- then takes its rows out of the table. Not part of the log: rows come and go.
CREATE TABLE pending (
    id              BIGSERIAL PRIMARY KEY,
    token_id        BYTEA  NOT NULL CHECK (length(token_id) = 32),
    statement       BYTEA  NOT NULL,
    instance        TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    done_at         BIGINT,
    leaf_index      BIGINT CHECK (leaf_index >= 0),
    tree_size       BIGINT CHECK (tree_size > leaf_index),
    already_logged  BOOLEAN,
    refusal         TEXT,
    -- Done rows hold exactly one outcome: logged (index, size) or refused.
    CHECK ((done_at IS NULL AND leaf_index IS NULL AND refusal IS NULL)
        OR (done_at IS NOT NULL AND (refusal IS NULL) = (leaf_index IS NOT NULL)
            AND (leaf_index IS NULL) = (tree_size IS NULL)))
);

-- What the sequencing instance still has to log, oldest first.
CREATE INDEX pending_waiting ON pending (id) WHERE done_at IS NULL;
-- The outcomes an instance collects.
CREATE INDEX pending_done ON pending (instance) WHERE done_at IS NOT NULL;
