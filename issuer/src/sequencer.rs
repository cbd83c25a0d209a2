//! The sequencer: the one task that owns the Merkle tree.
//!
//! Submissions queue up on an mpsc channel; the task takes them in batches
//! (up to [`SequencerConfig::max_batch`] entries, collecting while they keep
//! arriving for at most [`SequencerConfig::max_delay`] after the first one),
//! and for each batch:
//!
//! 1. looks up, in two concurrent queries, what the log knows about every
//!    token id the batch names (its own ids, the tokens it revokes or
//!    supersedes) and the current token of every stone it issues for;
//! 2. validates each submission in order against the log and the earlier
//!    submissions of the batch: a token id already logged is an idempotent
//!    success with its existing leaf index; one stone, one active token
//!    ([`SubmitError::ActiveTokenExists`], [`SubmitError::SupersedesNotCurrent`]);
//!    a revocation names an existing token of the same issuer not already
//!    revoked;
//! 3. appends the accepted leaves to the in-memory tree (an
//!    [`AppendState`] plus the right edge of every tile level), computes the
//!    new and grown hash tiles, and signs one checkpoint;
//! 4. hands the batch to the writer task, which writes entries, tiles and
//!    checkpoint in **one transaction** ([`Store::append_batch`]);
//! 5. only after the commit, the writer answers each waiter with its leaf
//!    index, the signed checkpoint and the inclusion proof ([`Sequenced`];
//!    the waiter computes its path from the batch's hashes).
//!
//! The two stages overlap: while the writer commits batch *n*, the batcher
//! validates and builds batch *n + 1* against the database plus the
//! changes of the batches not committed yet (an overlay per batch in
//! flight, dropped once the writer reports the commit).
//!
//! If the transaction fails, every waiter of the batch, and of the batches
//! built on it, gets [`SubmitError::Store`]; the batcher waits for the
//! writer to drain and reloads the tree from the database: nothing is half
//! written and nothing acknowledged is lost. A PostgreSQL sequencer that
//! finds its lock gone ([`StoreError::LockLost`]) stops instead. On start it
//! resumes from the database (size and root from the latest checkpoint,
//! frontier and tile edges from the stored tiles, root checked), and an
//! empty log gets a signed checkpoint of size 0.
//!
//! The sequencer does not check issuer signatures: the API verifies every
//! statement against the issuer's key before submitting it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loupe_schemas::bundle::ProofBundle;
use loupe_schemas::checkpoint::{Checkpoint, CheckpointError, CheckpointParseError};
use loupe_schemas::merkle::{
    AppendError, AppendState, EMPTY_ROOT, Hash, HashReader, MissingHash, TreeError, leaf_hash,
    prove_inclusion, tree_hash_indexes,
};
use loupe_schemas::tiles::{
    TILE_HEIGHT, TILE_WIDTH, TileCoords, encode_hash_tile, new_tiles, tile_in_tree,
    tiles_for_stored_hashes,
};
use loupe_schemas::token::{Statement, Token, TokenId, TokenParseError};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::BatchStats;
use crate::proofs::{MissingTile, ProofError, TileHashes, inclusion_proof};
use crate::rotation::LogSigner;
use crate::store::{EntryKind, LogBatch, NewEntry, SequencerLease, Store, StoreError, StoredTile};

/// How the sequencer forms batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequencerConfig {
    /// Most entries in one batch (one transaction, one checkpoint).
    pub max_batch: usize,
    /// Longest time a batch keeps collecting after its first submission
    /// arrived, while submissions keep arriving. A batch closes earlier when
    /// the queue stays empty for a couple of scheduler turns, so a lone
    /// submission is not held back; zero closes it at the first empty queue.
    pub max_delay: Duration,
}

impl Default for SequencerConfig {
    /// 1024 entries, 5 ms.
    fn default() -> Self {
        Self {
            max_batch: 1024,
            max_delay: Duration::from_millis(5),
        }
    }
}

/// A logged submission: where it is, and the proof that it is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequenced {
    /// The entry's index in the log.
    pub leaf_index: u64,
    /// The entry's token id.
    pub token_id: TokenId,
    /// Size of the tree of `checkpoint`.
    pub tree_size: u64,
    /// The signed checkpoint (C2SP signed note text) the proof leads to.
    pub checkpoint: Arc<str>,
    /// The RFC 9162 inclusion path of the entry in that tree.
    pub inclusion_path: Vec<Hash>,
    /// Whether the entry was already logged before this submission (an
    /// idempotent resubmission).
    pub already_logged: bool,
}

impl Sequenced {
    /// The C2SP `tlog-proof` bundle of the entry.
    #[must_use]
    pub fn proof_bundle(&self) -> ProofBundle {
        ProofBundle::new(
            self.leaf_index,
            self.inclusion_path.clone(),
            self.checkpoint.as_ref(),
        )
    }
}

/// Why a submission was not logged.
#[derive(Clone, Debug, Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The bytes are not a valid statement.
    #[error("not a valid statement: {0}")]
    Parse(#[from] TokenParseError),
    /// The stone already has an active token and the submission does not
    /// name it in `supersedes`.
    #[error("the stone already has an active token {current}; supersede it")]
    ActiveTokenExists {
        /// The stone's active token.
        current: TokenId,
    },
    /// `supersedes` names a token that is not the stone's current token
    /// (another stone's, an older one, an unknown one, or any token while
    /// the stone has none).
    #[error("supersedes {supersedes}, but the stone's current token is {current:?}")]
    SupersedesNotCurrent {
        /// The token named in `supersedes`.
        supersedes: TokenId,
        /// The stone's current (latest) token, if any.
        current: Option<TokenId>,
    },
    /// The revocation names a token the log does not hold.
    #[error("revokes {revokes}, which is not in the log")]
    RevokesUnknownToken {
        /// The token named.
        revokes: TokenId,
    },
    /// The revocation names a revocation, not a token.
    #[error("revokes {revokes}, which is a revocation")]
    RevokesRevocation {
        /// The entry named.
        revokes: TokenId,
    },
    /// The revocation names a token of another issuer.
    #[error("revokes {revokes}, a token of another issuer")]
    RevokesOtherIssuer {
        /// The token named.
        revokes: TokenId,
    },
    /// The token is already revoked.
    #[error("{revokes} is already revoked by {revocation}")]
    AlreadyRevoked {
        /// The token named.
        revokes: TokenId,
        /// The logged revocation.
        revocation: TokenId,
    },
    /// The log holds the maximum number of entries.
    #[error("the log is full")]
    LogFull,
    /// The batch could not be persisted (or its proof not read); nothing of
    /// it was logged. Retrying is safe.
    #[error("the log could not persist the batch: {0}")]
    Store(Arc<StoreError>),
    /// The proof of an already logged entry could not be read.
    #[error("could not read the proof: {0}")]
    Proof(Arc<ProofError>),
    /// The sequencer is not running (shut down, or lost its lock).
    #[error("the sequencer is not running")]
    Stopped,
    /// The instance that sequences the log could not log a submission
    /// handed to it through the database, for a reason it reported as text
    /// (a failed batch, an unreadable proof). Nothing of it is half
    /// written; retrying is safe.
    #[error("the sequencing instance could not log the submission: {0}")]
    HandOff(String),
}

impl SubmitError {
    /// Whether the log refused the statement for good: it is malformed, it
    /// breaks a rule of the log, or the log is full. Such a statement is
    /// not logged, now or later. For the other errors the statement may be
    /// logged after all (a proof that could not be read) or its fate is not
    /// known to this instance.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Parse(_)
                | Self::ActiveTokenExists { .. }
                | Self::SupersedesNotCurrent { .. }
                | Self::RevokesUnknownToken { .. }
                | Self::RevokesRevocation { .. }
                | Self::RevokesOtherIssuer { .. }
                | Self::AlreadyRevoked { .. }
                | Self::LogFull
        )
    }
}

/// Why the sequencer could not start (or resume after a failed batch).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SequencerError {
    /// The store failed, or another sequencer holds the lock
    /// ([`StoreError::SequencerLocked`]).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The stored tiles could not be read to rebuild the tree.
    #[error("reading the stored tree: {0}")]
    Tree(#[from] TreeError<MissingTile>),
    /// The tree rebuilt from the stored tiles does not have the latest
    /// checkpoint's root: the database is inconsistent.
    #[error("stored tiles give a root that differs from checkpoint {tree_size}")]
    RootMismatch {
        /// The checkpoint's tree size.
        tree_size: u64,
    },
    /// The entries table does not end where the latest checkpoint says.
    #[error("the entries do not end at the checkpoint's tree size {tree_size}")]
    EntriesMismatch {
        /// The checkpoint's tree size.
        tree_size: u64,
    },
    /// Signing the checkpoint failed (the signer's name is not a valid
    /// origin).
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint body is invalid (the signer's name is not a valid
    /// origin line).
    #[error("checkpoint body: {0}")]
    CheckpointBody(#[from] CheckpointParseError),
    /// A tile the tree needs is missing.
    #[error("{0}")]
    MissingTile(#[from] MissingTile),
    /// Internal bookkeeping of the tile edges went wrong (a bug).
    #[error("internal: {0}")]
    Internal(&'static str),
}

impl From<ProofError> for SequencerError {
    fn from(e: ProofError) -> Self {
        match e {
            ProofError::Store(e) => Self::Store(e),
            ProofError::Tree(e) => Self::Tree(e),
            _ => Self::Internal("unexpected proof error while loading the tree"),
        }
    }
}

/// How often the sequencer tries to reload the tree after a failed batch
/// before it stops (about 20 s with the back-off).
const RELOAD_ATTEMPTS: u32 = 12;

/// Scheduler turns the batcher waits on an empty queue before it closes a
/// batch early.
const IDLE_TURNS: u32 = 2;

/// One queued submission.
struct Submission {
    statement: Statement,
    /// Signed by this process for this submission (a token with a fresh
    /// random `cti`): it cannot be in the log, so its id is not looked up.
    fresh: bool,
    leaf_hash: Hash,
    arrived: Instant,
    reply: oneshot::Sender<Result<Reply, SubmitError>>,
}

/// The sequencer's answer to one submission.
enum Reply {
    /// Complete.
    Done(Sequenced),
    /// Logged in the committed batch: the waiter computes its inclusion
    /// proof from the batch's hashes, off the sequencer's task.
    Prove {
        leaf_index: u64,
        token_id: TokenId,
        tree_size: u64,
        checkpoint: Arc<str>,
        hashes: Arc<BatchHashes>,
    },
}

impl Reply {
    fn into_sequenced(self) -> Result<Sequenced, SubmitError> {
        match self {
            Self::Done(done) => Ok(done),
            Self::Prove {
                leaf_index,
                token_id,
                tree_size,
                checkpoint,
                hashes,
            } => match prove_inclusion(leaf_index, tree_size, hashes.as_ref()) {
                Ok(proof) => Ok(Sequenced {
                    leaf_index,
                    token_id,
                    tree_size,
                    checkpoint,
                    inclusion_path: proof.path,
                    already_logged: false,
                }),
                Err(e) => Err(SubmitError::Store(Arc::new(StoreError::Corrupt(format!(
                    "inclusion proof from the batch: {e}"
                ))))),
            },
        }
    }
}

// Submissions dominate; boxing them would add an allocation to each.
#[allow(clippy::large_enum_variant)]
enum Message {
    Submit(Submission),
    Shutdown(oneshot::Sender<()>),
}

/// A cloneable handle to the running sequencer.
#[derive(Clone, Debug)]
pub struct SequencerHandle {
    tx: mpsc::Sender<Message>,
    origin: Arc<str>,
    stats: Arc<BatchStats>,
}

/// Starts the sequencer task.
#[derive(Debug)]
pub struct Sequencer;

impl Sequencer {
    /// Takes the sequencer lock, resumes the tree from `store` (writing a
    /// signed checkpoint of size 0 on an empty log), and spawns the task on
    /// the current Tokio runtime. Checkpoints are signed by `log_signer`,
    /// whose name is the log origin (a [`loupe_schemas::checkpoint::NoteSigner`], or a [`LogSigner`]
    /// with previous keys that co-sign during a rotation).
    ///
    /// The task stops when every handle is dropped or
    /// [`SequencerHandle::shutdown`] is called, releasing the lock.
    ///
    /// # Errors
    ///
    /// [`SequencerError::Store`] (with [`StoreError::SequencerLocked`] when
    /// another sequencer runs); [`SequencerError::RootMismatch`],
    /// [`SequencerError::EntriesMismatch`], [`SequencerError::Tree`] when
    /// the stored log is inconsistent; [`SequencerError::Checkpoint`] when
    /// the signer's name is not a valid origin.
    pub async fn spawn(
        store: Arc<dyn Store>,
        log_signer: impl Into<LogSigner>,
        config: SequencerConfig,
    ) -> Result<SequencerHandle, SequencerError> {
        let log_signer: LogSigner = log_signer.into();
        let lease = store.lock_sequencer().await?;
        Self::spawn_with_lease(store, lease, log_signer, config).await
    }

    /// As [`Sequencer::spawn`], with the sequencer lock already taken (a
    /// standby that waited for it with [`Store::wait_for_sequencer_lock`]).
    /// The lease is released when the task stops, or here on error.
    ///
    /// # Errors
    ///
    /// As [`Sequencer::spawn`], except for the lock.
    pub async fn spawn_with_lease(
        store: Arc<dyn Store>,
        lease: Box<dyn SequencerLease>,
        log_signer: impl Into<LogSigner>,
        config: SequencerConfig,
    ) -> Result<SequencerHandle, SequencerError> {
        let log_signer: LogSigner = log_signer.into();
        let tree = LogTree::load(store.as_ref(), &log_signer).await?;
        let origin: Arc<str> = Arc::from(log_signer.name());
        let config = SequencerConfig {
            max_batch: config.max_batch.max(1),
            max_delay: config.max_delay,
        };
        let (tx, rx) = mpsc::channel(config.max_batch.saturating_mul(4).max(64));
        let stats = Arc::new(BatchStats::default());
        let (task, writer) = Task::new(
            store,
            log_signer,
            config,
            lease,
            tree,
            rx,
            Arc::clone(&stats),
        );
        let writer = tokio::spawn(writer.run());
        tokio::spawn(task.run(writer));
        Ok(SequencerHandle { tx, origin, stats })
    }
}

impl SequencerHandle {
    /// The log origin (the signer's name).
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Sizes and commit times of the batches this sequencer has written
    /// (served at `GET /metrics`).
    #[must_use]
    pub fn batch_stats(&self) -> &BatchStats {
        &self.stats
    }

    /// Parses `bytes` strictly and submits the statement.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Parse`] for invalid bytes; otherwise as
    /// [`SequencerHandle::submit`].
    pub async fn submit_bytes(&self, bytes: &[u8]) -> Result<Sequenced, SubmitError> {
        self.submit(Statement::parse(bytes)?).await
    }

    /// Submits a parsed (and, by the caller, signature-checked) statement
    /// and waits until it is logged in a committed batch.
    ///
    /// # Errors
    ///
    /// A validation error ([`SubmitError::ActiveTokenExists`],
    /// [`SubmitError::SupersedesNotCurrent`], the `Revokes*` variants,
    /// [`SubmitError::AlreadyRevoked`], [`SubmitError::LogFull`]);
    /// [`SubmitError::Store`] when the batch could not be persisted;
    /// [`SubmitError::Stopped`] when the sequencer is not running.
    pub async fn submit(&self, statement: Statement) -> Result<Sequenced, SubmitError> {
        self.submit_with(statement, false).await
    }

    /// As [`SequencerHandle::submit`], for a token this process has just
    /// signed for this call (its `cti` fresh from the system's random
    /// source), submitted once: it cannot be in the log yet, so the
    /// sequencer does not look its id up (one index search less per token).
    /// Were it there after all, the log's `UNIQUE` token-id constraint
    /// refuses the batch, and nothing is written.
    ///
    /// # Errors
    ///
    /// As [`SequencerHandle::submit`].
    pub async fn submit_new(&self, token: Token) -> Result<Sequenced, SubmitError> {
        self.submit_with(Statement::Token(token), true).await
    }

    /// [`SequencerHandle::submit`], or [`SequencerHandle::submit_new`]
    /// when `fresh` (the statement is a token signed for this call).
    pub(crate) async fn submit_with(
        &self,
        statement: Statement,
        fresh: bool,
    ) -> Result<Sequenced, SubmitError> {
        let (reply, answer) = oneshot::channel();
        let submission = Submission {
            leaf_hash: leaf_hash(statement.logged_bytes()),
            statement,
            fresh,
            arrived: Instant::now(),
            reply,
        };
        self.tx
            .send(Message::Submit(submission))
            .await
            .map_err(|_| SubmitError::Stopped)?;
        answer
            .await
            .map_err(|_| SubmitError::Stopped)??
            .into_sequenced()
    }

    /// Whether the sequencer task still takes submissions (it stops on
    /// [`SequencerHandle::shutdown`], or when it lost its lock or cannot
    /// reload the log).
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Completes once the sequencer task no longer takes submissions.
    pub async fn stopped(&self) {
        self.tx.closed().await;
    }

    /// Stops the sequencer after the batch in progress: queued submissions
    /// are answered with [`SubmitError::Stopped`], and the lock is released
    /// before this returns.
    pub async fn shutdown(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Shutdown(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// The tree and the right edge of its tiles.
struct LogTree {
    state: AppendState,
    /// `edges[l]`: the hashes of the rightmost, partial tile of tile level
    /// `l` (fewer than 256).
    edges: Vec<Vec<Hash>>,
    /// The latest signed checkpoint.
    checkpoint: Arc<str>,
}

impl LogTree {
    /// Rebuilds the tree from the latest checkpoint and the stored tiles,
    /// checking the root; writes a checkpoint of size 0 on an empty log.
    async fn load(store: &dyn Store, signer: &LogSigner) -> Result<Self, SequencerError> {
        let Some(latest) = store.latest_checkpoint().await? else {
            let note = signer.sign(&Checkpoint::new(signer.name(), 0, EMPTY_ROOT, vec![])?)?;
            store
                .append_batch(&LogBatch {
                    old_size: 0,
                    entries: Vec::new(),
                    tiles: Vec::new(),
                    checkpoint_size: 0,
                    checkpoint_root: EMPTY_ROOT,
                    checkpoint_note: note.clone(),
                })
                .await?;
            return Ok(Self {
                state: AppendState::new(),
                edges: Vec::new(),
                checkpoint: Arc::from(note),
            });
        };
        let size = latest.tree_size;

        // The frontier hashes and the partial tile of every level, in one query.
        let frontier_indexes =
            tree_hash_indexes(size).map_err(|_| SequencerError::Internal("tree size"))?;
        let mut tiles = tiles_for_stored_hashes(&frontier_indexes, size)
            .ok_or(SequencerError::Internal("frontier tiles"))?;
        let edge_tiles = edge_tiles(size);
        for t in &edge_tiles {
            if !tiles.contains(t) {
                tiles.push(*t);
            }
        }
        let (last, after, fetched) = tokio::join!(
            async {
                match size.checked_sub(1) {
                    Some(i) => store.entry_by_index(i).await.map(|e| e.is_some()),
                    None => Ok(true),
                }
            },
            store.entry_by_index(size),
            TileHashes::fetch_tiles(store, &tiles, size)
        );
        if !last? || after?.is_some() {
            return Err(SequencerError::EntriesMismatch { tree_size: size });
        }
        let fetched = fetched?;
        let state = AppendState::from_reader(size, &fetched)?;
        if state.root() != latest.root {
            return Err(SequencerError::RootMismatch { tree_size: size });
        }
        let mut edges = Vec::new();
        for t in edge_tiles {
            let data = fetched.tile(t).ok_or(MissingTile {
                level: t.level(),
                index: t.index(),
                needed: t.width(),
                stored: 0,
            })?;
            let hashes = loupe_schemas::tiles::decode_hash_tile(data, t.width())
                .map_err(|_| SequencerError::Internal("edge tile"))?;
            let level = usize::from(t.level());
            if edges.len() <= level {
                edges.resize(level + 1, Vec::new());
            }
            edges[level] = hashes;
        }
        Ok(Self {
            state,
            edges,
            checkpoint: Arc::from(latest.note),
        })
    }

    fn size(&self) -> u64 {
        self.state.size()
    }

    /// Appends a leaf; records every stored hash it produces in `hashes`
    /// and every tile it completes in `full`.
    fn append(
        &mut self,
        leaf_hash: Hash,
        hashes: &mut HashMap<u64, Hash>,
        full: &mut HashMap<(u8, u64), Vec<u8>>,
    ) -> Result<u64, AppendError> {
        let appended = self.state.append(leaf_hash)?;
        for (level, hash) in appended.stored_hashes.iter().enumerate() {
            hashes.insert(appended.first_stored_index + level as u64, *hash);
            if level % usize::from(TILE_HEIGHT) != 0 {
                continue;
            }
            let tile_level = level / usize::from(TILE_HEIGHT);
            if self.edges.len() <= tile_level {
                self.edges.resize(tile_level + 1, Vec::new());
            }
            let edge = &mut self.edges[tile_level];
            edge.push(*hash);
            if edge.len() == usize::from(TILE_WIDTH) {
                // The hash's index at its level is leaf_index >> level.
                let index_at_level = appended.leaf_index >> level;
                full.insert(
                    (tile_level as u8, index_at_level / u64::from(TILE_WIDTH)),
                    encode_hash_tile(edge),
                );
                edge.clear();
            }
        }
        Ok(appended.leaf_index)
    }

    /// The tiles a batch from `old_size` to the current size writes.
    fn changed_tiles(
        &self,
        old_size: u64,
        mut full: HashMap<(u8, u64), Vec<u8>>,
    ) -> Result<Vec<StoredTile>, SequencerError> {
        new_tiles(old_size, self.size())
            .into_iter()
            .map(|coords| {
                let data = if coords.is_full() {
                    full.remove(&(coords.level(), coords.index()))
                        .ok_or(SequencerError::Internal("full tile not built"))?
                } else {
                    let edge = self
                        .edges
                        .get(usize::from(coords.level()))
                        .filter(|e| e.len() == usize::from(coords.width()))
                        .ok_or(SequencerError::Internal("partial tile edge"))?;
                    encode_hash_tile(edge)
                };
                Ok(StoredTile { coords, data })
            })
            .collect()
    }
}

/// The partial tile of every level of a tree of `size` leaves.
fn edge_tiles(size: u64) -> Vec<TileCoords> {
    (0..=7u8)
        .filter_map(|level| {
            let shift = u32::from(level) * u32::from(TILE_HEIGHT);
            let at_level = size.checked_shr(shift).unwrap_or(0);
            let width = at_level % u64::from(TILE_WIDTH);
            if width == 0 {
                return None;
            }
            tile_in_tree(level, at_level / u64::from(TILE_WIDTH), size)
        })
        .collect()
}

/// Stored hashes known while building a batch: the old frontier and every
/// hash the batch's appends produced.
struct BatchHashes(HashMap<u64, Hash>);

impl HashReader for BatchHashes {
    type Error = MissingHash;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        indexes
            .iter()
            .map(|i| {
                self.0.get(i).copied().ok_or(MissingHash {
                    index: *i,
                    stored: 0,
                })
            })
            .collect()
    }
}

/// What the validation decided for one submission.
enum Outcome {
    /// Appended at this leaf index.
    New(u64),
    /// The same statement as an earlier submission of the batch, appended
    /// at this leaf index.
    Repeat(u64),
    /// Already in the log (or in a batch still being written) at this leaf
    /// index.
    Logged(u64),
    /// Refused.
    Rejected(SubmitError),
}

/// The latest token of a stone during validation.
#[derive(Clone, Copy)]
struct Head {
    token_id: TokenId,
    revoked_by: Option<TokenId>,
}

/// An entry as validation knows it (logged, in flight, or in this batch).
#[derive(Clone)]
struct Known {
    leaf_index: u64,
    kind: EntryKind,
    iss: String,
    sub: Option<String>,
    revoked_by: Option<TokenId>,
}

/// What a batch handed to the writer but not yet committed changes, for
/// validating the next batches before it commits.
struct Overlay {
    /// The batch's number.
    batch_no: u64,
    /// Its new entries.
    entries: HashMap<TokenId, Known>,
    /// Tokens it revokes, with the revocation.
    revoked: HashMap<TokenId, TokenId>,
    /// Stones whose latest token it changes.
    heads: HashMap<(String, String), Head>,
}

/// A batch for the writer: what to write, then whom to answer.
struct WriteJob {
    generation: u64,
    batch_no: u64,
    write: Option<LogBatch>,
    answers: Vec<(oneshot::Sender<Result<Reply, SubmitError>>, Answer)>,
    new_size: u64,
    checkpoint: Arc<str>,
    hashes: Arc<BatchHashes>,
    validate_us: u64,
    build_us: u64,
}

/// How to answer one waiter once the job's write committed.
enum Answer {
    /// A leaf of this batch.
    Prove { leaf_index: u64, token_id: TokenId },
    /// An entry logged earlier: its proof is read from the stored tiles.
    Logged { leaf_index: u64, token_id: TokenId },
    /// Refused.
    Rejected(SubmitError),
}

enum WriterMessage {
    Job(Box<WriteJob>),
    /// Answered once every earlier job is done.
    Barrier(oneshot::Sender<()>),
}

/// What the writer reports back to the batcher.
enum WriteDone {
    Committed { batch_no: u64 },
    Failed { generation: u64 },
}

/// Stage 1: collects, validates, appends to the tree, builds tiles and
/// signs; hands each batch to the writer (stage 2), which commits and
/// answers. The next batch is prepared while the previous one is written.
struct Task {
    store: Arc<dyn Store>,
    signer: LogSigner,
    config: SequencerConfig,
    lease: Box<dyn SequencerLease>,
    tree: LogTree,
    rx: mpsc::Receiver<Message>,
    overlays: VecDeque<Overlay>,
    generation: u64,
    next_batch_no: u64,
    writer: mpsc::Sender<WriterMessage>,
    done: mpsc::UnboundedReceiver<WriteDone>,
}

impl Task {
    fn new(
        store: Arc<dyn Store>,
        signer: LogSigner,
        config: SequencerConfig,
        lease: Box<dyn SequencerLease>,
        tree: LogTree,
        rx: mpsc::Receiver<Message>,
        stats: Arc<BatchStats>,
    ) -> (Self, Writer) {
        let (writer, jobs) = mpsc::channel(1);
        let (done_tx, done) = mpsc::unbounded_channel();
        let task = Self {
            store: Arc::clone(&store),
            signer,
            config,
            lease,
            tree,
            rx,
            overlays: VecDeque::new(),
            generation: 0,
            next_batch_no: 0,
            writer,
            done,
        };
        let writer = Writer {
            store,
            jobs,
            done: done_tx,
            failed: None,
            stats,
        };
        (task, writer)
    }

    async fn run(mut self, writer: tokio::task::JoinHandle<()>) {
        let mut batch = Vec::with_capacity(self.config.max_batch);
        let mut shutdown = None;
        while shutdown.is_none() {
            let Some(first) = self.rx.recv().await else {
                break;
            };
            match first {
                Message::Submit(s) => batch.push(s),
                Message::Shutdown(done) => {
                    shutdown = Some(done);
                    break;
                }
            }
            let deadline = batch
                .first()
                .map_or_else(Instant::now, |s| s.arrived + self.config.max_delay);
            // Collect while submissions keep arriving, up to max_batch or
            // until max_delay after the first one; close as soon as the
            // queue stays empty across a couple of scheduler turns.
            let mut idle_turns = 0;
            while batch.len() < self.config.max_batch {
                let next = match self.rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        if idle_turns >= IDLE_TURNS || Instant::now() >= deadline {
                            None
                        } else {
                            idle_turns += 1;
                            tokio::task::yield_now().await;
                            continue;
                        }
                    }
                };
                idle_turns = 0;
                match next {
                    Some(Message::Submit(s)) => batch.push(s),
                    Some(Message::Shutdown(done)) => {
                        shutdown = Some(done);
                        break;
                    }
                    None => break,
                }
            }
            let submissions = std::mem::take(&mut batch);
            if let Err(e) = self.process(submissions).await {
                tracing::error!(error = %e, "sequencer stopped: cannot reload the log");
                break;
            }
        }
        // Refuse whatever is still queued, let the writer finish its jobs,
        // then release the lock.
        self.rx.close();
        while let Ok(message) = self.rx.try_recv() {
            match message {
                Message::Submit(s) => {
                    let _ = s.reply.send(Err(SubmitError::Stopped));
                }
                Message::Shutdown(done) => {
                    let _ = done.send(());
                }
            }
        }
        drop(self.writer);
        let _ = writer.await;
        drop(self.lease);
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    }

    /// Applies the writer's reports: drops the overlays of committed
    /// batches; after a failure, waits for the writer to drain and reloads
    /// the tree from the database.
    async fn sync_with_writer(&mut self) -> Result<(), SequencerError> {
        let mut failed = false;
        while let Ok(done) = self.done.try_recv() {
            match done {
                WriteDone::Committed { batch_no } => {
                    while self
                        .overlays
                        .front()
                        .is_some_and(|o| o.batch_no <= batch_no)
                    {
                        self.overlays.pop_front();
                    }
                }
                WriteDone::Failed { generation } => failed |= generation == self.generation,
            }
        }
        if failed {
            self.reload().await?;
        }
        Ok(())
    }

    /// Waits until the writer has finished every job handed to it, then
    /// rebuilds the tree from the database: what it holds is the truth.
    async fn reload(&mut self) -> Result<(), SequencerError> {
        let (barrier, passed) = oneshot::channel();
        if self
            .writer
            .send(WriterMessage::Barrier(barrier))
            .await
            .is_ok()
        {
            let _ = passed.await;
        }
        // Reports that arrived meanwhile concern the old generation.
        while self.done.try_recv().is_ok() {}
        self.overlays.clear();
        self.generation += 1;
        // Retry a passing outage for a while (submissions wait in the
        // queue), but never sequence on a tree that may differ from the
        // database.
        let mut delay = Duration::from_millis(50);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reloaded = match self.lease.check().await {
                Ok(()) => LogTree::load(self.store.as_ref(), &self.signer).await,
                Err(StoreError::LockLost) => return Err(StoreError::LockLost.into()),
                Err(e) => Err(e.into()),
            };
            match reloaded {
                Ok(tree) => {
                    self.tree = tree;
                    return Ok(());
                }
                Err(e) if attempt < RELOAD_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "reloading the log failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Prepares one batch and hands it to the writer. Errors only when the
    /// tree cannot be reloaded after a failure (the task then stops).
    async fn process(&mut self, batch: Vec<Submission>) -> Result<(), SequencerError> {
        self.sync_with_writer().await?;
        let started = Instant::now();
        let (outcomes, overlay) = match self.validate(&batch).await {
            Ok(validated) => validated,
            Err(e) => {
                let e = Arc::new(e);
                for s in batch {
                    let _ = s.reply.send(Err(SubmitError::Store(Arc::clone(&e))));
                }
                return Ok(());
            }
        };
        let validated = Instant::now();

        let old_size = self.tree.size();
        let mut hashes = HashMap::with_capacity(batch.len() * 2 + 64);
        if let Ok(indexes) = tree_hash_indexes(old_size) {
            hashes.extend(
                indexes
                    .into_iter()
                    .zip(self.tree.state.frontier().iter().copied()),
            );
        }
        let mut full = HashMap::new();
        let mut entries = Vec::new();
        let mut outcomes = outcomes;
        let mut drift = false;
        for (s, outcome) in batch.iter().zip(outcomes.iter_mut()) {
            if let Outcome::New(expected) = outcome {
                match self.tree.append(s.leaf_hash, &mut hashes, &mut full) {
                    Ok(index) if index == *expected => {
                        entries.push(NewEntry::from_statement(index, &s.statement));
                    }
                    Ok(_) => drift = true,
                    Err(_) => *outcome = Outcome::Rejected(SubmitError::LogFull),
                }
            }
        }
        let new_size = self.tree.size();
        let mut write = None;
        if !entries.is_empty() && !drift {
            let root = self.tree.state.root();
            let built = self.tree.changed_tiles(old_size, full).and_then(|tiles| {
                let body = Checkpoint::new(self.signer.name(), new_size, root, vec![])?;
                Ok((tiles, self.signer.sign(&body)?))
            });
            match built {
                Ok((tiles, note)) => {
                    self.tree.checkpoint = Arc::from(note.as_str());
                    write = Some(LogBatch {
                        old_size,
                        entries,
                        tiles,
                        checkpoint_size: new_size,
                        checkpoint_root: root,
                        checkpoint_note: note,
                    });
                }
                Err(e) => {
                    tracing::error!(error = %e, "building a batch failed");
                    drift = true;
                }
            }
        }
        if drift {
            // The in-memory tree no longer matches what was validated.
            let e = Arc::new(StoreError::Corrupt("the batch could not be built".into()));
            for s in batch {
                let _ = s.reply.send(Err(SubmitError::Store(Arc::clone(&e))));
            }
            return self.reload().await;
        }

        let batch_no = self.next_batch_no;
        self.next_batch_no += 1;
        if write.is_some() {
            self.overlays.push_back(Overlay {
                batch_no,
                ..overlay
            });
        }
        let answers = batch
            .into_iter()
            .zip(outcomes)
            .map(|(s, outcome)| {
                let token_id = s.statement.id();
                let answer = match outcome {
                    Outcome::New(leaf_index) | Outcome::Repeat(leaf_index) => Answer::Prove {
                        leaf_index,
                        token_id,
                    },
                    Outcome::Logged(leaf_index) => Answer::Logged {
                        leaf_index,
                        token_id,
                    },
                    Outcome::Rejected(e) => Answer::Rejected(e),
                };
                (s.reply, answer)
            })
            .collect();
        let job = WriteJob {
            generation: self.generation,
            batch_no,
            write,
            answers,
            new_size,
            checkpoint: Arc::clone(&self.tree.checkpoint),
            hashes: Arc::new(BatchHashes(hashes)),
            validate_us: u64::try_from((validated - started).as_micros()).unwrap_or(u64::MAX),
            build_us: u64::try_from(validated.elapsed().as_micros()).unwrap_or(u64::MAX),
        };
        if self
            .writer
            .send(WriterMessage::Job(Box::new(job)))
            .await
            .is_err()
        {
            return Err(SequencerError::Internal("the writer task stopped"));
        }
        Ok(())
    }

    /// Decides every submission of the batch, in order, against the log
    /// (two queries), the batches still being written, and the batch's
    /// earlier submissions. Returns the outcomes and what the batch changes.
    async fn validate(&self, batch: &[Submission]) -> Result<(Vec<Outcome>, Overlay), StoreError> {
        let mut ids = HashSet::with_capacity(batch.len() * 2);
        let mut subjects = HashSet::with_capacity(batch.len());
        for s in batch {
            if !s.fresh {
                ids.insert(s.statement.id());
            }
            match &s.statement {
                Statement::Token(t) => {
                    if let Some(old) = t.provenance().supersedes {
                        ids.insert(old);
                    }
                    subjects.insert((t.claims().iss.clone(), t.claims().sub.clone()));
                }
                Statement::Revocation(r) => {
                    ids.insert(r.revokes());
                }
            }
        }
        let id_list: Vec<TokenId> = ids.iter().copied().collect();
        let subject_list: Vec<(String, String)> = subjects.iter().cloned().collect();
        let (logged, heads) = tokio::join!(
            self.store.lookup_entries(&id_list),
            self.store.subject_heads(&subject_list)
        );
        let mut known: HashMap<TokenId, Known> = HashMap::with_capacity(batch.len() * 2);
        for e in logged? {
            known.insert(
                e.token_id,
                Known {
                    leaf_index: e.leaf_index,
                    kind: e.kind,
                    iss: e.iss,
                    sub: e.sub,
                    revoked_by: e.revoked_by,
                },
            );
        }
        let mut heads: HashMap<(String, String), Head> = heads?
            .into_iter()
            .map(|h| {
                let head = Head {
                    token_id: h.token_id,
                    revoked_by: h.revoked_by,
                };
                ((h.iss, h.sub), head)
            })
            .collect();
        // Batches handed to the writer but not committed yet, oldest first.
        for o in &self.overlays {
            for (id, e) in &o.entries {
                if ids.contains(id) {
                    known.insert(*id, e.clone());
                }
            }
            for (target, revocation) in &o.revoked {
                if let Some(t) = known.get_mut(target) {
                    t.revoked_by = Some(*revocation);
                }
            }
            for (subject, head) in &o.heads {
                if subjects.contains(subject) {
                    heads.insert(subject.clone(), *head);
                }
            }
        }

        let mut overlay = Overlay {
            batch_no: 0,
            entries: HashMap::new(),
            revoked: HashMap::new(),
            heads: HashMap::new(),
        };
        let mut next = self.tree.size();
        let mut outcomes = Vec::with_capacity(batch.len());
        for s in batch {
            let id = s.statement.id();
            if let Some(k) = known.get(&id) {
                outcomes.push(if overlay.entries.contains_key(&id) {
                    Outcome::Repeat(k.leaf_index)
                } else {
                    Outcome::Logged(k.leaf_index)
                });
                continue;
            }
            let verdict = match &s.statement {
                Statement::Token(t) => {
                    let key = (t.claims().iss.clone(), t.claims().sub.clone());
                    check_token(heads.get(&key).copied(), t.provenance().supersedes).map(|()| {
                        let head = Head {
                            token_id: id,
                            revoked_by: None,
                        };
                        heads.insert(key.clone(), head);
                        overlay.heads.insert(key, head);
                        Known {
                            leaf_index: next,
                            kind: EntryKind::Token,
                            iss: t.claims().iss.clone(),
                            sub: Some(t.claims().sub.clone()),
                            revoked_by: None,
                        }
                    })
                }
                Statement::Revocation(r) => {
                    let target = r.revokes();
                    check_revocation(known.get(&target), &r.claims().iss, target).map(|()| {
                        overlay.revoked.insert(target, id);
                        if let Some(t) = known.get_mut(&target) {
                            t.revoked_by = Some(id);
                            if let Some(e) = overlay.entries.get_mut(&target) {
                                e.revoked_by = Some(id);
                            }
                            if let Some(sub) = &t.sub {
                                let key = (t.iss.clone(), sub.clone());
                                if let Some(head) = heads.get_mut(&key)
                                    && head.token_id == target
                                {
                                    head.revoked_by = Some(id);
                                    overlay.heads.insert(key, *head);
                                }
                            }
                        }
                        Known {
                            leaf_index: next,
                            kind: EntryKind::Revocation,
                            iss: r.claims().iss.clone(),
                            sub: None,
                            revoked_by: None,
                        }
                    })
                }
            };
            match verdict {
                Ok(entry) => {
                    overlay.entries.insert(id, entry.clone());
                    known.insert(id, entry);
                    outcomes.push(Outcome::New(next));
                    next += 1;
                }
                Err(e) => outcomes.push(Outcome::Rejected(e)),
            }
        }
        Ok((outcomes, overlay))
    }
}

/// Stage 2: writes each batch in one transaction, then answers its waiters.
struct Writer {
    store: Arc<dyn Store>,
    jobs: mpsc::Receiver<WriterMessage>,
    done: mpsc::UnboundedSender<WriteDone>,
    /// The generation whose batch failed: its later batches are refused
    /// unwritten (they were built on the failed one).
    failed: Option<(u64, Arc<StoreError>)>,
    /// What the writer records of each batch.
    stats: Arc<BatchStats>,
}

impl Writer {
    async fn run(mut self) {
        while let Some(message) = self.jobs.recv().await {
            match message {
                WriterMessage::Barrier(passed) => {
                    let _ = passed.send(());
                }
                WriterMessage::Job(job) => self.write(*job).await,
            }
        }
    }

    async fn write(&mut self, job: WriteJob) {
        if let Some((generation, e)) = &self.failed
            && *generation == job.generation
        {
            let e = Arc::clone(e);
            for (reply, _) in job.answers {
                let _ = reply.send(Err(SubmitError::Store(Arc::clone(&e))));
            }
            return;
        }
        let started = Instant::now();
        if let Some(write) = &job.write
            && let Err(e) = self.store.append_batch(write).await
        {
            tracing::warn!(error = %e, entries = write.entries.len(), "batch not persisted");
            self.stats.failed();
            let e = Arc::new(e);
            self.failed = Some((job.generation, Arc::clone(&e)));
            let _ = self.done.send(WriteDone::Failed {
                generation: job.generation,
            });
            for (reply, _) in job.answers {
                let _ = reply.send(Err(SubmitError::Store(Arc::clone(&e))));
            }
            return;
        }
        let written = Instant::now();
        if let Some(write) = &job.write {
            self.stats.committed(write.entries.len(), written - started);
        }
        let _ = self.done.send(WriteDone::Committed {
            batch_no: job.batch_no,
        });
        // Committed: answer.
        let submissions = job.answers.len();
        let mut logged = Vec::new();
        for (reply, answer) in job.answers {
            let answer = match answer {
                Answer::Prove {
                    leaf_index,
                    token_id,
                } => Ok(Reply::Prove {
                    leaf_index,
                    token_id,
                    tree_size: job.new_size,
                    checkpoint: Arc::clone(&job.checkpoint),
                    hashes: Arc::clone(&job.hashes),
                }),
                Answer::Logged {
                    leaf_index,
                    token_id,
                } => {
                    logged.push((leaf_index, token_id, reply));
                    continue;
                }
                Answer::Rejected(e) => Err(e),
            };
            let _ = reply.send(answer);
        }
        tracing::debug!(
            entries = job.write.as_ref().map_or(0, |w| w.entries.len()),
            submissions,
            validate_us = job.validate_us,
            build_us = job.build_us,
            write_us = u64::try_from((written - started).as_micros()).unwrap_or(u64::MAX),
            answer_us = u64::try_from(written.elapsed().as_micros()).unwrap_or(u64::MAX),
            "batch sequenced"
        );
        if !logged.is_empty() {
            // Proofs of older entries come from the stored tiles; read them
            // off the writer's path.
            let store = Arc::clone(&self.store);
            let (new_size, checkpoint) = (job.new_size, job.checkpoint);
            tokio::spawn(async move {
                for (leaf_index, token_id, reply) in logged {
                    let answer = inclusion_proof(store.as_ref(), leaf_index, new_size)
                        .await
                        .map(|proof| {
                            Reply::Done(Sequenced {
                                leaf_index,
                                token_id,
                                tree_size: new_size,
                                checkpoint: Arc::clone(&checkpoint),
                                inclusion_path: proof.path,
                                already_logged: true,
                            })
                        })
                        .map_err(|e| SubmitError::Proof(Arc::new(e)));
                    let _ = reply.send(answer);
                }
            });
        }
        // Free the batch (statements, tiles) off the batcher's path.
        drop(job.write);
    }
}

/// One stone, one active token: checks a new token against the stone's
/// latest token `head`.
fn check_token(head: Option<Head>, supersedes: Option<TokenId>) -> Result<(), SubmitError> {
    match (head, supersedes) {
        // A first token, or a new token after the last one was revoked.
        (None, None) => Ok(()),
        (Some(h), None) if h.revoked_by.is_some() => Ok(()),
        (Some(h), None) => Err(SubmitError::ActiveTokenExists {
            current: h.token_id,
        }),
        (Some(h), Some(s)) if s == h.token_id => Ok(()),
        (h, Some(s)) => Err(SubmitError::SupersedesNotCurrent {
            supersedes: s,
            current: h.map(|h| h.token_id),
        }),
    }
}

/// A revocation names an existing token of the same issuer, not revoked yet.
fn check_revocation(
    target: Option<&Known>,
    iss: &str,
    revokes: TokenId,
) -> Result<(), SubmitError> {
    let target = target.ok_or(SubmitError::RevokesUnknownToken { revokes })?;
    if target.kind != EntryKind::Token {
        return Err(SubmitError::RevokesRevocation { revokes });
    }
    if target.iss != iss {
        return Err(SubmitError::RevokesOtherIssuer { revokes });
    }
    if let Some(revocation) = target.revoked_by {
        return Err(SubmitError::AlreadyRevoked {
            revokes,
            revocation,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;
    use std::sync::Arc;

    use loupe_schemas::merkle::{MemoryHashStore, leaf_hash, prove_inclusion};
    use loupe_schemas::tiles::{read_tile_data, tiles_for_tree};

    use super::{BatchHashes, LogTree};

    /// The tile edges the sequencer keeps produce, batch after batch, the
    /// very tiles a full in-memory tree gives, up to tile level 2.
    #[test]
    fn batches_write_the_tiles_of_the_memory_tree() {
        let mut tree = LogTree {
            state: loupe_schemas::merkle::AppendState::new(),
            edges: Vec::new(),
            checkpoint: Arc::from(""),
        };
        let mut mem = MemoryHashStore::new();
        let mut written: HashMap<(u8, u64), Vec<u8>> = HashMap::new();
        let sizes = [1usize, 1, 3, 250, 1, 2, 1024, 7, 65_000, 300, 4_000];
        let mut n = 0u64;
        for size in sizes {
            let old_size = tree.state.size();
            let mut hashes = HashMap::new();
            if let Ok(indexes) = super::tree_hash_indexes(old_size) {
                hashes.extend(
                    indexes
                        .into_iter()
                        .zip(tree.state.frontier().iter().copied()),
                );
            }
            let mut full = HashMap::new();
            for _ in 0..size {
                let leaf = leaf_hash(&n.to_be_bytes());
                n += 1;
                tree.append(leaf, &mut hashes, &mut full).unwrap();
                mem.append_leaf_hash(&leaf).unwrap();
            }
            for tile in tree.changed_tiles(old_size, full).unwrap() {
                assert_eq!(
                    tile.data,
                    read_tile_data(tile.coords, &mem).unwrap(),
                    "{}",
                    tile.coords.path()
                );
                written.insert((tile.coords.level(), tile.coords.index()), tile.data);
            }
            // The batch's hashes prove every one of its leaves.
            let reader = BatchHashes(hashes);
            for leaf in [old_size, (old_size + n) / 2, n - 1] {
                assert_eq!(
                    prove_inclusion(leaf, n, &reader).unwrap(),
                    prove_inclusion(leaf, n, &mem).unwrap()
                );
            }
        }
        // What was written, each tile at its last width, is the whole tree.
        let tiles = tiles_for_tree(n);
        assert!(tiles.iter().any(|t| t.level() == 2));
        assert_eq!(tiles.len(), written.len());
        for tile in tiles {
            assert_eq!(
                written[&(tile.level(), tile.index())],
                read_tile_data(tile, &mem).unwrap()
            );
        }
    }

    /// A tree of three tile levels written through the store resumes with
    /// the same frontier, tile edges and root.
    #[tokio::test]
    async fn load_resumes_frontier_and_edges_from_stored_tiles() {
        use loupe_schemas::checkpoint::NoteSigner;
        use loupe_schemas::token::TokenId;

        use crate::store::{EntryKind, LogBatch, NewEntry, open_store};

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("log.db").display());
        let store = open_store(&url).await.unwrap();
        let signer = NoteSigner::new(
            "lab.example/log",
            ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap();
        let mut tree = LogTree::load(store.as_ref(), &signer.clone().into())
            .await
            .unwrap();
        let mut n = 0u64;
        let mut roots = Vec::new();
        for size in [40_000u64, 25_600, 1, 399] {
            let old_size = tree.size();
            let mut full = HashMap::new();
            let mut entries = Vec::new();
            for _ in 0..size {
                let data = n.to_be_bytes().to_vec();
                tree.append(leaf_hash(&data), &mut HashMap::new(), &mut full)
                    .unwrap();
                entries.push(NewEntry {
                    leaf_index: n,
                    token_id: TokenId(loupe_schemas::token::sha256(&data)),
                    kind: EntryKind::Token,
                    iss: "lab.example".into(),
                    sub: Some(format!("R-{n}")),
                    supersedes: None,
                    revokes: None,
                    statement: data,
                });
                n += 1;
            }
            let root = tree.state.root();
            let body = super::Checkpoint::new(signer.name(), n, root, vec![]).unwrap();
            store
                .append_batch(&LogBatch {
                    old_size,
                    entries,
                    tiles: tree.changed_tiles(old_size, full).unwrap(),
                    checkpoint_size: n,
                    checkpoint_root: root,
                    checkpoint_note: loupe_schemas::checkpoint::sign_checkpoint(&body, &signer)
                        .unwrap(),
                })
                .await
                .unwrap();
            let loaded = LogTree::load(store.as_ref(), &signer.clone().into())
                .await
                .unwrap();
            assert_eq!(loaded.state, tree.state, "size {n}");
            assert_eq!(loaded.edges.len(), tree.edges.len());
            for (a, b) in loaded.edges.iter().zip(&tree.edges) {
                assert_eq!(a, b, "size {n}");
            }
            // Proofs from the stored tiles verify, computed (cold cache)
            // and again from the store's node cache (warm).
            for _pass in 0..2 {
                for leaf in (0..n).step_by(1_999).chain([n - 1, n / 2]) {
                    let proof = crate::proofs::inclusion_proof(store.as_ref(), leaf, n)
                        .await
                        .unwrap();
                    loupe_schemas::merkle::verify_inclusion(
                        &leaf_hash(&leaf.to_be_bytes()),
                        leaf,
                        n,
                        &proof.path,
                        &root,
                    )
                    .unwrap();
                }
                for &(old, old_root) in &roots {
                    let proof = crate::proofs::consistency_proof(store.as_ref(), old, n)
                        .await
                        .unwrap();
                    loupe_schemas::merkle::verify_consistency(
                        old,
                        n,
                        &proof.path,
                        &old_root,
                        &root,
                    )
                    .unwrap();
                }
            }
            roots.push((n, root));
        }
        assert!(n > 65_536);
        assert!(store.node_cache().is_some_and(|c| !c.is_empty()));
        store.close().await;
    }
}
