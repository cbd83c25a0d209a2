//! Leadership among issuer instances on one PostgreSQL log, in process: two
//! [`Leadership`]s on two stores of one database. The second stands by and
//! hands its submissions to the first; a leader whose lock session is
//! killed steps down to standby when its next batch is refused, and its
//! submissions go on through the hand-off; a graceful shutdown hands the
//! log to the standby. PostgreSQL only: skipped without
//! `LOUPE_TEST_POSTGRES_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "store_support/mod.rs"]
mod store_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use loupe_issuer::leadership::Leadership;
use loupe_issuer::sequencer::{SequencerConfig, SubmitError};
use loupe_issuer::store::{PostgresStore, Store, StoreError};
use loupe_schemas::merkle::verify_inclusion;
use store_support::{TestDb, log_signer, revocation, token, token_for};

async fn instance(db: &TestDb, name: &str) -> (Leadership, Arc<dyn Store>) {
    let pg = PostgresStore::open(&db.url).await.unwrap();
    let pool = pg.pool().clone();
    let store: Arc<dyn Store> = Arc::new(pg);
    let config = SequencerConfig {
        max_batch: 64,
        max_delay: Duration::from_millis(2),
    };
    let leadership = Leadership::start(store.clone(), pool, name, log_signer(), config)
        .await
        .unwrap();
    (leadership, store)
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_hands_off_steps_up_and_a_stale_leader_steps_down() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, store_a) = instance(&db, "a").await;
    let (b, store_b) = instance(&db, "b").await;
    assert!(a.is_leader());
    assert!(!b.is_leader(), "one sequencer at a time");

    // The standby's submissions are logged by the leader; its answers are
    // complete: leaf index, checkpoint, a proof that verifies.
    let t0 = token(0);
    let done = b.submit(t0.clone()).await.unwrap();
    assert_eq!(done.leaf_index, 0);
    assert!(!done.already_logged);
    let mine = a.submit(token(1)).await.unwrap();
    assert_eq!(mine.leaf_index, 1);
    let root = store_b
        .checkpoint_at(done.tree_size)
        .await
        .unwrap()
        .unwrap()
        .root;
    verify_inclusion(
        &loupe_schemas::merkle::leaf_hash(t0.logged_bytes()),
        done.leaf_index,
        done.tree_size,
        &done.inclusion_path,
        &root,
    )
    .unwrap();
    // Resubmitting through the standby is idempotent.
    let again = b.submit(t0.clone()).await.unwrap();
    assert_eq!(again.leaf_index, 0);
    assert!(again.already_logged);
    // The log's rules apply to handed-off submissions, typed.
    let t0_id = t0.id();
    match b.submit(token_for("R-0", 99, None)).await {
        Err(SubmitError::ActiveTokenExists { current }) => assert_eq!(current, t0_id),
        other => panic!("expected active-token-exists, got {other:?}"),
    }
    b.submit(revocation(t0_id)).await.unwrap();
    assert!(matches!(
        b.submit(revocation(t0_id)).await,
        Err(SubmitError::AlreadyRevoked { .. })
    ));

    // A's lock session dies (a network partition): B takes the lock.
    let killed = db
        .exec(
            "SELECT pg_terminate_backend(pid) FROM pg_locks \
             WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await
        .unwrap();
    assert_eq!(killed, 1);
    wait_until("b takes over", || b.is_leader()).await;
    let logged_by_b = b.submit(token(2)).await.unwrap();
    assert_eq!(logged_by_b.leaf_index, 3);

    // A still believes it leads: its next batch is refused by the log
    // guard, nothing forks. The one after finds the lock gone: A steps
    // down and hands that submission to B instead.
    match a.submit(token(3)).await {
        Err(SubmitError::Store(e)) => assert!(
            matches!(
                e.as_ref(),
                StoreError::SizeMismatch {
                    expected: 3,
                    found: 4
                }
            ),
            "{e:?}"
        ),
        other => panic!("expected a refused batch, got {other:?}"),
    }
    let handed = a.submit(token(3)).await.unwrap();
    assert_eq!(handed.leaf_index, 4);
    assert!(!a.is_leader());
    assert!(b.is_leader());

    // A graceful stop hands the log over to the standby.
    b.shutdown().await;
    wait_until("a takes over again", || a.is_leader()).await;
    assert_eq!(a.submit(token(4)).await.unwrap().leaf_index, 5);
    assert_eq!(store_a.tree_size().await.unwrap(), 6);
    assert_eq!(db.count("entries").await, 6);

    a.shutdown().await;
    store_a.close().await;
    store_b.close().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_is_retried_for_the_standby_then_reported() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, store_a) = instance(&db, "a").await;
    let (b, store_b) = instance(&db, "b").await;
    assert!(a.is_leader() && !b.is_leader());
    b.submit(token(0)).await.unwrap();

    // The next two batches fail at their checkpoint insert (a sequence,
    // which a rollback does not undo, counts the attempts). A handed-off
    // submission stays pending and is logged on the third attempt.
    db.exec(
        "CREATE SEQUENCE attempts; \
         CREATE FUNCTION fail_first() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF nextval('attempts') <= 2 THEN RAISE EXCEPTION 'injected failure'; END IF; \
         RETURN NEW; END; $$; \
         CREATE TRIGGER inject BEFORE INSERT ON checkpoints \
         FOR EACH ROW EXECUTE FUNCTION fail_first();",
    )
    .await
    .unwrap();
    let done = b.submit(token(1)).await.unwrap();
    assert_eq!(done.leaf_index, 1);
    assert_eq!(db.count("entries").await, 2);
    let tried: i64 = sqlx::query_scalar("SELECT last_value FROM attempts")
        .fetch_one(
            &mut <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(tried, 3, "two failed batches, then the one that committed");

    // A batch that always fails: after MAX_ATTEMPTS the failure comes back
    // to the standby, typed, and nothing was written.
    db.exec("ALTER SEQUENCE attempts RESTART WITH 1;")
        .await
        .unwrap();
    db.exec(
        "CREATE OR REPLACE FUNCTION fail_first() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN PERFORM nextval('attempts'); RAISE EXCEPTION 'injected failure'; END; $$;",
    )
    .await
    .unwrap();
    match b.submit(token(2)).await {
        Err(SubmitError::HandOff(detail)) => {
            assert!(!detail.contains("injected"), "no internals: {detail}");
        }
        other => panic!("expected a hand-off failure, got {other:?}"),
    }
    let tried: i64 = sqlx::query_scalar("SELECT last_value FROM attempts")
        .fetch_one(
            &mut <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        tried,
        i64::from(loupe_issuer::handoff::MAX_ATTEMPTS),
        "tried exactly MAX_ATTEMPTS times"
    );
    assert_eq!(db.count("entries").await, 2);

    // Once the database heals, the same statement goes through.
    db.exec("DROP TRIGGER inject ON checkpoints;")
        .await
        .unwrap();
    assert_eq!(b.submit(token(2)).await.unwrap().leaf_index, 2);
    assert_eq!(db.count("pending").await, 0);

    a.shutdown().await;
    b.shutdown().await;
    store_a.close().await;
    store_b.close().await;
    db.cleanup().await;
}
