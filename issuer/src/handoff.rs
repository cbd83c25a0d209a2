//! Hand-off of submissions between issuer instances that share one
//! PostgreSQL database: an instance that does not sequence the log (a
//! *standby*) passes what its clients submit to the one that does (the
//! *leader*, holder of the sequencer's advisory lock) through the `pending`
//! table, and answers its clients with the leader's outcome.
//!
//! 1. The standby signs the statement as usual, inserts it into `pending`
//!    with its instance id and `NOTIFY loupe_pending` in the same statement
//!    ([`HandOff::submit`]).
//! 2. The leader ([`forward`]) listens on `loupe_pending` (and polls every
//!    [`POLL`] in case a notification was lost), reads the rows not done
//!    yet, and submits each to its sequencer like a local request: same
//!    batches, same rules.
//! 3. Once the batch holding a row is committed (or the row refused), the
//!    leader writes the outcome into the row (leaf index and the checkpoint
//!    size proving it, or the typed [`Refusal`]) and
//!    `NOTIFY loupe_done, '<instance>'`.
//! 4. The standby takes its done rows out of the table (`DELETE …
//!    RETURNING`), reads that checkpoint and the inclusion proof from the
//!    database, and answers exactly what the leader would have.
//!
//! **Nothing is sequenced twice.** A row whose statement was logged but
//! whose outcome was never written (the leader died in between) is still
//! pending; the next leader submits it again and its sequencer finds the
//! token id already logged: an idempotent success at the existing index
//! (and the `entries` table's unique `token_id` refuses a second leaf in
//! any case). A leader that stops (shut down, lock lost) leaves the rows it
//! did not finish pending for the next one. A row whose batch failed
//! (database error) stays pending too and is tried again at the next look,
//! by this leader or the next: during a fail-over the stale leader's
//! refused batch does not turn into an error for a row the new leader will
//! log. Only after [`MAX_ATTEMPTS`] failed batches is the failure written
//! back ([`SubmitError::HandOff`] for the submitter).
//!
//! The leader trusts the statements it reads from `pending` as it trusts
//! the database: whoever can write there can write entries too. Every
//! instance signs with the issuer key and checks the API key itself.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use loupe_schemas::token::{Statement, TokenId};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::proofs::inclusion_proof;
use crate::sequencer::{Sequenced, SequencerHandle, SubmitError};
use crate::store::{Store, StoreError, to_i64, to_u64, unix_now};

/// The channel standbys notify when they insert a pending row.
pub const PENDING_CHANNEL: &str = "loupe_pending";
/// The channel the leader notifies, with the submitting instance's id as
/// payload, when it wrote outcomes.
pub const DONE_CHANNEL: &str = "loupe_done";
/// How often both sides look at the table even without a notification
/// (one is lost while a listening connection reconnects).
pub const POLL: Duration = Duration::from_millis(500);
/// How long a done row whose submitter never collected it (it died) stays.
const DONE_RETENTION_SECS: i64 = 600;
/// How often the leader removes such rows.
const GC_EVERY: Duration = Duration::from_secs(60);
/// How long an outcome nobody waits for is kept in memory (its submitter
/// gave up, or registers a moment after the outcome arrived).
const UNCLAIMED_TTL: Duration = Duration::from_secs(60);
/// Most rows the leader reads per look at the table.
const FETCH_LIMIT: i64 = 4096;
/// How many failed batches a row may be part of before the leader writes
/// the failure back (a row that fails every batch it is in must not keep
/// failing the leader's own submissions).
pub const MAX_ATTEMPTS: u32 = 3;

const INSERT_SQL: &str = "WITH ins AS (INSERT INTO pending (token_id, statement, instance, created_at) \
     VALUES ($1, $2, $3, $4) RETURNING id) \
     SELECT ins.id FROM ins, LATERAL (SELECT pg_notify('loupe_pending', '')) n";
const COLLECT_SQL: &str = "DELETE FROM pending WHERE instance = $1 AND done_at IS NOT NULL \
     RETURNING id, leaf_index, tree_size, already_logged, refusal";
const FETCH_SQL: &str =
    "SELECT id, statement FROM pending WHERE done_at IS NULL ORDER BY id LIMIT $1";
const WRITE_BACK_SQL: &str = "WITH done AS (UPDATE pending p SET done_at = $1, leaf_index = t.leaf_index, \
         tree_size = t.tree_size, already_logged = t.already_logged, refusal = t.refusal \
     FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[], $5::bool[], $6::text[]) \
         AS t(id, leaf_index, tree_size, already_logged, refusal) \
     WHERE p.id = t.id AND p.done_at IS NULL RETURNING p.instance) \
     SELECT pg_notify('loupe_done', d.instance) FROM (SELECT DISTINCT instance FROM done) d";
const GC_SQL: &str = "DELETE FROM pending WHERE done_at IS NOT NULL AND done_at < $1";

/// Why the log refused a handed-off submission, as the leader writes it
/// into the row (JSON, tagged by `kind`): the [`SubmitError`] a local
/// submission would have got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// [`SubmitError::ActiveTokenExists`].
    ActiveTokenExists {
        /// The stone's active token.
        current: TokenId,
    },
    /// [`SubmitError::SupersedesNotCurrent`].
    SupersedesNotCurrent {
        /// The token named in `supersedes`.
        supersedes: TokenId,
        /// The stone's current token, if any.
        current: Option<TokenId>,
    },
    /// [`SubmitError::RevokesUnknownToken`].
    RevokesUnknownToken {
        /// The token named.
        revokes: TokenId,
    },
    /// [`SubmitError::RevokesRevocation`].
    RevokesRevocation {
        /// The entry named.
        revokes: TokenId,
    },
    /// [`SubmitError::RevokesOtherIssuer`].
    RevokesOtherIssuer {
        /// The token named.
        revokes: TokenId,
    },
    /// [`SubmitError::AlreadyRevoked`].
    AlreadyRevoked {
        /// The token named.
        revokes: TokenId,
        /// The logged revocation.
        revocation: TokenId,
    },
    /// [`SubmitError::LogFull`].
    LogFull,
    /// Anything else (a failed batch, an unparsable statement): becomes
    /// [`SubmitError::HandOff`] with this text, which names no internals.
    Failed {
        /// The error's message.
        detail: String,
    },
}

impl Refusal {
    /// The refusal to write back for `e`; `None` for
    /// [`SubmitError::Stopped`]: the row stays pending for the next leader.
    /// (The leader retries rows that failed with [`SubmitError::Store`] or
    /// [`SubmitError::Proof`] before it writes this.)
    #[must_use]
    pub fn of(e: &SubmitError) -> Option<Self> {
        Some(match e {
            SubmitError::ActiveTokenExists { current } => {
                Self::ActiveTokenExists { current: *current }
            }
            SubmitError::SupersedesNotCurrent {
                supersedes,
                current,
            } => Self::SupersedesNotCurrent {
                supersedes: *supersedes,
                current: *current,
            },
            SubmitError::RevokesUnknownToken { revokes } => {
                Self::RevokesUnknownToken { revokes: *revokes }
            }
            SubmitError::RevokesRevocation { revokes } => {
                Self::RevokesRevocation { revokes: *revokes }
            }
            SubmitError::RevokesOtherIssuer { revokes } => {
                Self::RevokesOtherIssuer { revokes: *revokes }
            }
            SubmitError::AlreadyRevoked {
                revokes,
                revocation,
            } => Self::AlreadyRevoked {
                revokes: *revokes,
                revocation: *revocation,
            },
            SubmitError::LogFull => Self::LogFull,
            SubmitError::Stopped => return None,
            other => Self::Failed {
                detail: other.to_string(),
            },
        })
    }

    /// The error a submitter returns for this refusal.
    #[must_use]
    pub fn into_error(self) -> SubmitError {
        match self {
            Self::ActiveTokenExists { current } => SubmitError::ActiveTokenExists { current },
            Self::SupersedesNotCurrent {
                supersedes,
                current,
            } => SubmitError::SupersedesNotCurrent {
                supersedes,
                current,
            },
            Self::RevokesUnknownToken { revokes } => SubmitError::RevokesUnknownToken { revokes },
            Self::RevokesRevocation { revokes } => SubmitError::RevokesRevocation { revokes },
            Self::RevokesOtherIssuer { revokes } => SubmitError::RevokesOtherIssuer { revokes },
            Self::AlreadyRevoked {
                revokes,
                revocation,
            } => SubmitError::AlreadyRevoked {
                revokes,
                revocation,
            },
            Self::LogFull => SubmitError::LogFull,
            Self::Failed { detail } => SubmitError::HandOff(detail),
        }
    }
}

/// What the leader wrote back for one row.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// Logged at `leaf_index`, proven by the checkpoint of `tree_size`.
    Logged {
        leaf_index: u64,
        tree_size: u64,
        already_logged: bool,
    },
    /// Refused.
    Refused(Refusal),
}

/// What a submitted row's task reports to the forwarder.
enum Report {
    /// Write this outcome back.
    Done(Outcome),
    /// Leave the row pending: the sequencer stopped (`None`), or the
    /// batch failed (its error, counted against [`MAX_ATTEMPTS`]).
    Retry(Option<SubmitError>),
}

/// Aborts a background task when dropped.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The standby side: hands submissions to the leader through the
/// `pending` table and waits for their outcomes. One per instance; it
/// listens on [`DONE_CHANNEL`] for as long as it lives.
#[derive(Debug)]
pub struct HandOff {
    pool: PgPool,
    instance: Arc<str>,
    waiters: Arc<Mutex<Waiters>>,
    _tasks: [AbortOnDrop; 2],
}

/// Submitters waiting for their rows, and outcomes nobody claimed yet.
#[derive(Debug, Default)]
struct Waiters {
    waiting: HashMap<i64, oneshot::Sender<Outcome>>,
    unclaimed: HashMap<i64, (Outcome, Instant)>,
}

impl Waiters {
    fn lock(this: &Mutex<Self>) -> std::sync::MutexGuard<'_, Self> {
        this.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Removes a submitter's registration when it stops waiting (answered, or
/// its request was dropped).
struct Registration<'a> {
    waiters: &'a Mutex<Waiters>,
    id: i64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        Waiters::lock(self.waiters).waiting.remove(&self.id);
    }
}

impl HandOff {
    /// Starts listening for outcomes addressed to `instance` (a unique id
    /// of this process) on a connection of `pool`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the listening connection cannot be
    /// set up.
    pub async fn start(pool: PgPool, instance: &str) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(DONE_CHANNEL).await?;
        let instance: Arc<str> = Arc::from(instance);
        let waiters = Arc::new(Mutex::new(Waiters::default()));
        let wake = Arc::new(Notify::new());
        let listening = tokio::spawn(listen(
            listener,
            Arc::clone(&wake),
            Some(Arc::clone(&instance)),
        ));
        let collecting = tokio::spawn(collect_loop(
            pool.clone(),
            Arc::clone(&instance),
            Arc::clone(&waiters),
            wake,
        ));
        Ok(Self {
            pool,
            instance,
            waiters,
            _tasks: [AbortOnDrop(listening), AbortOnDrop(collecting)],
        })
    }

    /// This instance's id, as written in the rows it inserts.
    #[must_use]
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Hands `statement` (parsed and signature-checked by the caller) to
    /// the leader, waits for its outcome, and returns what the leader's
    /// own [`SequencerHandle::submit`] would have: the leaf index, the
    /// signed checkpoint of the batch that logged it (or a later one) and
    /// the inclusion proof in it, read from `store`.
    ///
    /// Waits as long as there is no leader (the caller's request timeout
    /// bounds it); dropping the future abandons the wait, not the row.
    ///
    /// # Errors
    ///
    /// The log's refusals as [`SubmitError`] variants;
    /// [`SubmitError::HandOff`] when the leader failed to log it;
    /// [`SubmitError::Store`] when the row cannot be inserted or the proof
    /// read; [`SubmitError::Stopped`] when this hand-off is being dropped.
    pub async fn submit(
        &self,
        store: &dyn Store,
        statement: &Statement,
    ) -> Result<Sequenced, SubmitError> {
        let token_id = statement.id();
        let id: i64 = sqlx::query_scalar(INSERT_SQL)
            .bind(token_id.0.as_slice())
            .bind(statement.logged_bytes())
            .bind(self.instance.as_ref())
            .bind(unix_now())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| SubmitError::Store(Arc::new(e.into())))?;
        let (tx, rx) = oneshot::channel();
        {
            let mut w = Waiters::lock(&self.waiters);
            match w.unclaimed.remove(&id) {
                Some((outcome, _)) => {
                    let _ = tx.send(outcome);
                }
                None => {
                    w.waiting.insert(id, tx);
                }
            }
        }
        let _registration = Registration {
            waiters: &self.waiters,
            id,
        };
        match rx.await.map_err(|_| SubmitError::Stopped)? {
            Outcome::Refused(refusal) => Err(refusal.into_error()),
            Outcome::Logged {
                leaf_index,
                tree_size,
                already_logged,
            } => {
                let (checkpoint, proof) = tokio::join!(
                    store.checkpoint_at(tree_size),
                    inclusion_proof(store, leaf_index, tree_size)
                );
                let checkpoint = checkpoint
                    .map_err(|e| SubmitError::Store(Arc::new(e)))?
                    .ok_or_else(|| {
                        SubmitError::Store(Arc::new(StoreError::Corrupt(format!(
                            "no checkpoint of size {tree_size} for a handed-off entry"
                        ))))
                    })?;
                let proof = proof.map_err(|e| SubmitError::Proof(Arc::new(e)))?;
                Ok(Sequenced {
                    leaf_index,
                    token_id,
                    tree_size,
                    checkpoint: Arc::from(checkpoint.note),
                    inclusion_path: proof.path,
                    already_logged,
                })
            }
        }
    }
}

/// Forwards the notifications of one channel to `wake` (only those whose
/// payload is `only`, when given), and wakes it after a reconnection too,
/// since notifications may have been lost meanwhile.
async fn listen(mut listener: PgListener, wake: Arc<Notify>, only: Option<Arc<str>>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => {
                if only.as_deref().is_none_or(|i| n.payload() == i) {
                    wake.notify_one();
                }
            }
            Ok(None) => wake.notify_one(),
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "listening for hand-off notifications");
                tokio::time::sleep(POLL).await;
                wake.notify_one();
            }
        }
    }
}

/// The standby's collector: on each notification (or every [`POLL`] while
/// someone waits), takes this instance's done rows out of the table and
/// hands each outcome to its waiter.
async fn collect_loop(
    pool: PgPool,
    instance: Arc<str>,
    waiters: Arc<Mutex<Waiters>>,
    wake: Arc<Notify>,
) {
    loop {
        let woken = tokio::time::timeout(POLL, wake.notified()).await.is_ok();
        if !woken && Waiters::lock(&waiters).waiting.is_empty() {
            continue;
        }
        match collect(&pool, &instance).await {
            Ok(outcomes) if outcomes.is_empty() => {}
            Ok(outcomes) => {
                let mut w = Waiters::lock(&waiters);
                let now = Instant::now();
                for (id, outcome) in outcomes {
                    match w.waiting.remove(&id) {
                        Some(tx) => {
                            let _ = tx.send(outcome);
                        }
                        None => {
                            w.unclaimed.insert(id, (outcome, now));
                        }
                    }
                }
                w.unclaimed
                    .retain(|_, (_, at)| at.elapsed() < UNCLAIMED_TTL);
            }
            Err(StoreError::Database(sqlx::Error::PoolClosed)) => return,
            Err(e) => tracing::warn!(error = %e, "collecting hand-off outcomes"),
        }
    }
}

/// Takes `instance`'s done rows out of the table. The rows are gone once
/// this returns, so a row that cannot be read becomes a failure for its
/// own waiter rather than an error for all of them.
async fn collect(pool: &PgPool, instance: &str) -> Result<Vec<(i64, Outcome)>, StoreError> {
    let rows = sqlx::query(COLLECT_SQL)
        .bind(instance)
        .fetch_all(pool)
        .await?;
    let mut outcomes = Vec::with_capacity(rows.len());
    for row in &rows {
        let Ok(id) = row.try_get::<i64, _>(0) else {
            tracing::error!("a collected hand-off row has no id");
            continue;
        };
        let outcome = read_outcome(row).unwrap_or_else(|e| {
            tracing::error!(id, error = %e, "unreadable hand-off outcome");
            Outcome::Refused(Refusal::Failed {
                detail: "the outcome could not be read".into(),
            })
        });
        outcomes.push((id, outcome));
    }
    Ok(outcomes)
}

/// Reads `leaf_index, tree_size, already_logged, refusal` (columns 1–4).
fn read_outcome(row: &sqlx::postgres::PgRow) -> Result<Outcome, StoreError> {
    let leaf_index: Option<i64> = row.try_get(1)?;
    let tree_size: Option<i64> = row.try_get(2)?;
    let already_logged: Option<bool> = row.try_get(3)?;
    let refusal: Option<String> = row.try_get(4)?;
    match (leaf_index, tree_size, refusal) {
        (Some(leaf_index), Some(tree_size), None) => Ok(Outcome::Logged {
            leaf_index: to_u64(leaf_index, "leaf index")?,
            tree_size: to_u64(tree_size, "tree size")?,
            already_logged: already_logged.unwrap_or(false),
        }),
        (None, None, Some(text)) => serde_json::from_str(&text)
            .map(Outcome::Refused)
            .map_err(|e| StoreError::Corrupt(format!("refusal {text:?}: {e}"))),
        _ => Err(StoreError::Corrupt("no single outcome".into())),
    }
}

/// The leader side: submits the rows of the `pending` table to `sequencer`
/// and writes their outcomes back, until the sequencer stops. Rows left by
/// an earlier leader are taken first. A lost database connection is
/// retried; rows whose outcome could not be written are submitted again
/// (an idempotent success) on the next look.
pub async fn forward(pool: PgPool, sequencer: SequencerHandle) {
    while sequencer.is_running() {
        tokio::select! {
            () = sequencer.stopped() => return,
            result = forward_once(&pool, &sequencer) => {
                if let Err(e) = result {
                    if matches!(e, StoreError::Database(sqlx::Error::PoolClosed)) {
                        return;
                    }
                    tracing::warn!(error = %e, "handing off pending submissions; retrying");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }
}

/// One listening session of [`forward`]; returns when the sequencer stops
/// (`Ok`) or the database fails.
async fn forward_once(pool: &PgPool, sequencer: &SequencerHandle) -> Result<(), StoreError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(PENDING_CHANNEL).await?;
    let wake = Arc::new(Notify::new());
    let _listening = AbortOnDrop(tokio::spawn(listen(listener, Arc::clone(&wake), None)));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(i64, Report)>();
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut failures: HashMap<i64, u32> = HashMap::new();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_gc: Option<Instant> = None;
    loop {
        tokio::select! {
            () = sequencer.stopped() => return Ok(()),
            Some(first) = done_rx.recv() => {
                let mut done = vec![first];
                while let Ok(d) = done_rx.try_recv() {
                    done.push(d);
                }
                let mut outcomes = Vec::with_capacity(done.len());
                for (id, report) in done {
                    in_flight.remove(&id);
                    match report {
                        Report::Done(outcome) => {
                            failures.remove(&id);
                            outcomes.push((id, outcome));
                        }
                        Report::Retry(None) => {}
                        Report::Retry(Some(e)) => {
                            let n = failures.entry(id).or_default();
                            *n += 1;
                            if *n >= MAX_ATTEMPTS {
                                failures.remove(&id);
                                if let Some(refusal) = Refusal::of(&e) {
                                    outcomes.push((id, Outcome::Refused(refusal)));
                                }
                            }
                        }
                    }
                }
                write_back(pool, &outcomes).await?;
            }
            () = wake.notified() => {
                fetch_and_submit(pool, sequencer, &mut in_flight, &done_tx).await?;
            }
            _ = tick.tick() => {
                fetch_and_submit(pool, sequencer, &mut in_flight, &done_tx).await?;
                if last_gc.is_none_or(|at| at.elapsed() >= GC_EVERY) {
                    sqlx::query(GC_SQL)
                        .bind(unix_now() - DONE_RETENTION_SECS)
                        .execute(pool)
                        .await?;
                    last_gc = Some(Instant::now());
                }
            }
        }
    }
}

/// Reads the rows not done and not in flight, and submits each to the
/// sequencer in a task of its own that reports the outcome on `done`.
async fn fetch_and_submit(
    pool: &PgPool,
    sequencer: &SequencerHandle,
    in_flight: &mut HashSet<i64>,
    done: &mpsc::UnboundedSender<(i64, Report)>,
) -> Result<(), StoreError> {
    let rows = sqlx::query(FETCH_SQL)
        .bind(FETCH_LIMIT)
        .fetch_all(pool)
        .await?;
    for row in rows {
        let id: i64 = row.try_get(0)?;
        if !in_flight.insert(id) {
            continue;
        }
        let bytes: Vec<u8> = row.try_get(1)?;
        let statement = match Statement::parse(&bytes) {
            Ok(s) => s,
            Err(e) => {
                let refusal = Refusal::Failed {
                    detail: SubmitError::Parse(e).to_string(),
                };
                let _ = done.send((id, Report::Done(Outcome::Refused(refusal))));
                continue;
            }
        };
        let (sequencer, done) = (sequencer.clone(), done.clone());
        tokio::spawn(async move {
            let report = match sequencer.submit(statement).await {
                Ok(s) => Report::Done(Outcome::Logged {
                    leaf_index: s.leaf_index,
                    tree_size: s.tree_size,
                    already_logged: s.already_logged,
                }),
                Err(SubmitError::Stopped) => Report::Retry(None),
                Err(e @ (SubmitError::Store(_) | SubmitError::Proof(_))) => Report::Retry(Some(e)),
                Err(e) => match Refusal::of(&e) {
                    Some(refusal) => Report::Done(Outcome::Refused(refusal)),
                    None => Report::Retry(None),
                },
            };
            let _ = done.send((id, report));
        });
    }
    Ok(())
}

/// Writes outcomes into their rows and notifies each submitting instance,
/// in one statement.
async fn write_back(pool: &PgPool, outcomes: &[(i64, Outcome)]) -> Result<(), StoreError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let n = outcomes.len();
    let mut ids = Vec::with_capacity(n);
    let mut leaf_index = Vec::with_capacity(n);
    let mut tree_size = Vec::with_capacity(n);
    let mut already = Vec::with_capacity(n);
    let mut refusal = Vec::with_capacity(n);
    for (id, outcome) in outcomes {
        ids.push(*id);
        match outcome {
            Outcome::Logged {
                leaf_index: i,
                tree_size: s,
                already_logged,
            } => {
                leaf_index.push(Some(to_i64(*i)?));
                tree_size.push(Some(to_i64(*s)?));
                already.push(Some(*already_logged));
                refusal.push(None);
            }
            Outcome::Refused(r) => {
                leaf_index.push(None);
                tree_size.push(None);
                already.push(None);
                refusal.push(Some(serde_json::to_string(r).map_err(|e| {
                    StoreError::Corrupt(format!("refusal not serialisable: {e}"))
                })?));
            }
        }
    }
    sqlx::query(WRITE_BACK_SQL)
        .bind(unix_now())
        .bind(ids)
        .bind(leaf_index)
        .bind(tree_size)
        .bind(already)
        .bind(refusal)
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use loupe_schemas::token::TokenId;

    use super::Refusal;
    use crate::sequencer::SubmitError;

    /// Every refusal of the log survives the trip through the row's JSON
    /// as the same typed error; a stopped sequencer writes nothing back.
    #[test]
    fn refusals_round_trip_through_json() {
        let (a, b) = (TokenId([1; 32]), TokenId([2; 32]));
        let errors = [
            SubmitError::ActiveTokenExists { current: a },
            SubmitError::SupersedesNotCurrent {
                supersedes: a,
                current: Some(b),
            },
            SubmitError::SupersedesNotCurrent {
                supersedes: a,
                current: None,
            },
            SubmitError::RevokesUnknownToken { revokes: a },
            SubmitError::RevokesRevocation { revokes: a },
            SubmitError::RevokesOtherIssuer { revokes: a },
            SubmitError::AlreadyRevoked {
                revokes: a,
                revocation: b,
            },
            SubmitError::LogFull,
        ];
        for e in errors {
            let refusal = Refusal::of(&e).unwrap_or_else(|| panic!("{e:?}"));
            let json = serde_json::to_string(&refusal).unwrap_or_default();
            let back: Refusal = serde_json::from_str(&json).unwrap_or_else(|_| panic!("{json}"));
            assert_eq!(back, refusal, "{json}");
            assert_eq!(back.into_error().to_string(), e.to_string(), "{json}");
        }
        assert_eq!(Refusal::of(&SubmitError::Stopped), None);
        let failed = Refusal::of(&SubmitError::HandOff("boom".into()));
        assert!(matches!(
            failed.map(Refusal::into_error),
            Some(SubmitError::HandOff(d)) if d.contains("boom")
        ));
    }
}
