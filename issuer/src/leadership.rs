//! Which instance sequences the log, and where a submission goes.
//!
//! On SQLite, and for a state built around a given sequencer, the instance
//! always sequences ([`Leadership::fixed`]). On PostgreSQL several
//! `loupe-issuer serve` processes may share one database
//! ([`Leadership::start`]):
//!
//! - exactly one of them, the **leader**, holds the sequencer's session
//!   advisory lock and runs the [`Sequencer`]; it also runs
//!   [`handoff::forward`] to log what the others hand it;
//! - the others are **standbys**: they serve every read from the database,
//!   accept writes and pass them to the leader through the `pending` table
//!   ([`HandOff`]), and poll the lock every [`LOCK_POLL`];
//! - when the leader's session ends (the process died, or its connection
//!   did), PostgreSQL releases the lock, the first standby to poll takes
//!   it, rebuilds the tree from the database (the restart path: root
//!   checked against the latest checkpoint) and logs the pending rows;
//! - a leader whose sequencer stops (its lock found gone after a refused
//!   batch) becomes a standby again.
//!
//! The leader's own submissions go straight to its sequencer's queue, as
//! in a single process; only a submission that finds the sequencer stopped
//! is handed off instead (an idempotent resubmission if it was logged).

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use loupe_schemas::token::{Statement, Token};
use sqlx::postgres::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::handoff::{self, HandOff};
use crate::rotation::LogSigner;
use crate::sequencer::{
    Sequenced, Sequencer, SequencerConfig, SequencerError, SequencerHandle, SubmitError,
};
use crate::store::{Store, StoreError};

/// How often a standby tries to take the sequencer lock.
pub const LOCK_POLL: Duration = Duration::from_millis(250);

/// How long the role loop waits after a failure (database unreachable,
/// inconsistent log) before trying again.
const RETRY: Duration = Duration::from_secs(1);

/// This instance's part in sequencing the log, and the way to submit.
#[derive(Debug)]
pub struct Leadership {
    /// The running sequencer while this instance leads.
    current: Arc<RwLock<Option<SequencerHandle>>>,
    /// PostgreSQL: the hand-off to whoever leads.
    handoff: Option<Arc<HandOff>>,
    store: Arc<dyn Store>,
    /// Set to `true` to stop the role loop.
    stop: watch::Sender<bool>,
    role_loop: Mutex<Option<JoinHandle<()>>>,
}

impl Leadership {
    /// An instance that always sequences, with `sequencer` (SQLite, tests).
    #[must_use]
    pub fn fixed(store: Arc<dyn Store>, sequencer: SequencerHandle) -> Self {
        Self {
            current: Arc::new(RwLock::new(Some(sequencer))),
            handoff: None,
            store,
            stop: watch::channel(false).0,
            role_loop: Mutex::new(None),
        }
    }

    /// Joins the instances sequencing the PostgreSQL log behind `pool`
    /// (`store` is the same database): takes the sequencer lock and starts
    /// the sequencer when it is free, otherwise starts as a standby that
    /// takes over when the leader's session ends. `instance` identifies
    /// this process in the `pending` table.
    ///
    /// # Errors
    ///
    /// [`SequencerError`] when the lock was free but the sequencer could
    /// not start (the stored log is inconsistent), or the database fails.
    pub async fn start(
        store: Arc<dyn Store>,
        pool: PgPool,
        instance: &str,
        log_signer: impl Into<LogSigner>,
        config: SequencerConfig,
    ) -> Result<Self, SequencerError> {
        let log_signer: LogSigner = log_signer.into();
        let handoff = Arc::new(HandOff::start(pool.clone(), instance).await?);
        let first = match store.lock_sequencer().await {
            Ok(lease) => Some(
                Sequencer::spawn_with_lease(Arc::clone(&store), lease, log_signer.clone(), config)
                    .await?,
            ),
            Err(StoreError::SequencerLocked) => {
                tracing::info!(instance, "another instance sequences the log: standing by");
                None
            }
            Err(e) => return Err(e.into()),
        };
        let current = Arc::new(RwLock::new(None));
        let (stop, stopped) = watch::channel(false);
        let role = RoleLoop {
            store: Arc::clone(&store),
            pool,
            log_signer,
            config,
            current: Arc::clone(&current),
            stopped,
        };
        let role_loop = tokio::spawn(role.run(first));
        Ok(Self {
            current,
            handoff: Some(handoff),
            store,
            stop,
            role_loop: Mutex::new(Some(role_loop)),
        })
    }

    /// The sequencer, while this instance sequences the log.
    #[must_use]
    pub fn sequencer(&self) -> Option<SequencerHandle> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .filter(SequencerHandle::is_running)
    }

    /// Whether this instance sequences the log now.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.sequencer().is_some()
    }

    /// Logs `statement` (parsed and signature-checked by the caller): on
    /// the leader through its sequencer's queue, on a standby through the
    /// hand-off. Either way the answer is the same.
    ///
    /// # Errors
    ///
    /// As [`SequencerHandle::submit`] and [`HandOff::submit`].
    pub async fn submit(&self, statement: Statement) -> Result<Sequenced, SubmitError> {
        self.submit_with(statement, false).await
    }

    /// As [`Leadership::submit`], for a token this process has just signed
    /// for this call: on the leader it skips the sequencer's id lookup
    /// ([`SequencerHandle::submit_new`]). A hand-off to another instance
    /// is looked up as usual (a retry may already be logged there).
    ///
    /// # Errors
    ///
    /// As [`Leadership::submit`].
    pub async fn submit_new(&self, token: Token) -> Result<Sequenced, SubmitError> {
        self.submit_with(Statement::Token(token), true).await
    }

    /// `fresh` reaches this instance's sequencer only: a hand-off is always
    /// looked up.
    async fn submit_with(
        &self,
        statement: Statement,
        fresh: bool,
    ) -> Result<Sequenced, SubmitError> {
        let Some(handoff) = &self.handoff else {
            let sequencer = self.sequencer().ok_or(SubmitError::Stopped)?;
            return sequencer.submit_with(statement, fresh).await;
        };
        if let Some(sequencer) = self.sequencer() {
            match sequencer.submit_with(statement.clone(), fresh).await {
                // It stopped under us (lost its lock): hand it to the next
                // leader.
                Err(SubmitError::Stopped) => {}
                other => return other,
            }
        }
        handoff.submit(self.store.as_ref(), &statement).await
    }

    /// Stops sequencing (after the batch in progress, releasing the lock
    /// for a standby) and stops taking over.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let role_loop = self
            .role_loop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match role_loop {
            Some(task) => {
                let _ = task.await;
            }
            None => {
                if let Some(sequencer) = self.sequencer() {
                    sequencer.shutdown().await;
                }
            }
        }
    }
}

/// The background task of a PostgreSQL instance: stand by, take over,
/// lead, and stand by again if leading stops.
struct RoleLoop {
    store: Arc<dyn Store>,
    pool: PgPool,
    log_signer: LogSigner,
    config: SequencerConfig,
    current: Arc<RwLock<Option<SequencerHandle>>>,
    stopped: watch::Receiver<bool>,
}

impl RoleLoop {
    fn publish(&self, sequencer: Option<SequencerHandle>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = sequencer;
    }

    async fn run(mut self, mut leading: Option<SequencerHandle>) {
        loop {
            let sequencer = match leading.take() {
                Some(s) => s,
                None => match self.take_over().await {
                    Some(s) => s,
                    None => return,
                },
            };
            self.publish(Some(sequencer.clone()));
            let forwarding = tokio::spawn(handoff::forward(self.pool.clone(), sequencer.clone()));
            let stopping = tokio::select! {
                () = sequencer.stopped() => false,
                _ = self.stopped.wait_for(|s| *s) => true,
            };
            self.publish(None);
            if stopping {
                sequencer.shutdown().await;
                let _ = forwarding.await;
                return;
            }
            forwarding.abort();
            tracing::warn!("this instance stopped sequencing the log: standing by");
        }
    }

    /// Waits for the lock and starts the sequencer on it; `None` when
    /// asked to stop first.
    async fn take_over(&mut self) -> Option<SequencerHandle> {
        loop {
            let waiting = Instant::now();
            let lease = tokio::select! {
                lease = self.store.wait_for_sequencer_lock(LOCK_POLL) => lease,
                _ = self.stopped.wait_for(|s| *s) => return None,
            };
            let locked = Instant::now();
            let started = match lease {
                Ok(lease) => {
                    Sequencer::spawn_with_lease(
                        Arc::clone(&self.store),
                        lease,
                        self.log_signer.clone(),
                        self.config,
                    )
                    .await
                }
                Err(e) => Err(e.into()),
            };
            match started {
                Ok(sequencer) => {
                    tracing::warn!(
                        stood_by_ms = u64::try_from(locked.duration_since(waiting).as_millis())
                            .unwrap_or(u64::MAX),
                        load_ms = u64::try_from(locked.elapsed().as_millis()).unwrap_or(u64::MAX),
                        "took the sequencer lock: this instance sequences the log now"
                    );
                    return Some(sequencer);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot take over the log; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY) => {}
                        _ = self.stopped.wait_for(|s| *s) => return None,
                    }
                }
            }
        }
    }
}
