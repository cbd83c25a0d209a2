//! The log's rules, enforced by the sequencer against the database and
//! inside one batch: idempotent resubmission, one stone one active token,
//! supersession, revocation. Runs on SQLite always and on PostgreSQL when
//! `LOUPE_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod store_support;

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use loupe_issuer::sequencer::{
    Sequenced, Sequencer, SequencerConfig, SequencerHandle, SubmitError,
};
use loupe_issuer::store::Store;
use loupe_schemas::token::Statement;
use store_support::{
    ISSUER, TestDb, issuer_key, log_signer, other_issuer_key, revocation, revocation_of, token,
    token_for, token_of,
};

/// A sequencer with the given `max_delay`.
async fn spawn(store: &Arc<dyn Store>, max_delay_ms: u64) -> SequencerHandle {
    Sequencer::spawn(
        store.clone(),
        log_signer(),
        SequencerConfig {
            max_batch: 1024,
            max_delay: Duration::from_millis(max_delay_ms),
        },
    )
    .await
    .unwrap()
}

/// Submits all at once, in order: `join_all` enqueues every submission in
/// its first poll, before the sequencer takes the batch.
async fn one_batch(
    seq: &SequencerHandle,
    statements: &[&Statement],
) -> Vec<Result<Sequenced, SubmitError>> {
    join_all(statements.iter().map(|s| seq.submit((*s).clone()))).await
}

#[tokio::test]
async fn resubmission_is_idempotent() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 1).await;
        let t = token(1);
        let first = seq.submit(t.clone()).await.unwrap();
        assert!(!first.already_logged);
        seq.submit(token(2)).await.unwrap();
        let again = seq.submit(t.clone()).await.unwrap();
        assert!(again.already_logged, "{}", db.name);
        assert_eq!(again.leaf_index, first.leaf_index);
        assert_eq!(again.tree_size, 2);
        // Raw bytes too, and a revocation resubmitted.
        let again = seq.submit_bytes(t.logged_bytes()).await.unwrap();
        assert_eq!(again.leaf_index, 0);
        let r = revocation(t.id());
        let r1 = seq.submit(r.clone()).await.unwrap();
        let r2 = seq.submit(r.clone()).await.unwrap();
        assert_eq!(
            (r1.leaf_index, r2.leaf_index, r2.already_logged),
            (2, 2, true)
        );
        assert!(matches!(
            seq.submit_bytes(b"not cose").await,
            Err(SubmitError::Parse(_))
        ));
        seq.shutdown().await;
        assert_eq!(store.tree_size().await.unwrap(), 3);
        store.close().await;
        db.cleanup().await;
    }

    // Inside one batch: the duplicate gets the same new leaf.
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 300).await;
        let t = token(5);
        let answers = one_batch(&seq, &[&t, &token(6), &t]).await;
        let answers: Vec<Sequenced> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers[0].leaf_index, answers[2].leaf_index, "{}", db.name);
        assert_eq!(answers[0].tree_size, 2);
        assert_eq!(answers[0].inclusion_path, answers[2].inclusion_path);
        seq.shutdown().await;
        assert_eq!(store.tree_size().await.unwrap(), 2);
        store.close().await;
        db.cleanup().await;
    }
}

/// `submit_new` skips the id lookup for a token this process has just
/// signed. Misused on a token that is in the log (here after its
/// revocation, so that the one-stone rule lets it through), the database's
/// `UNIQUE` token id refuses the batch: nothing is written, the same token
/// is not logged twice, and the sequencer goes on.
#[tokio::test]
async fn a_repeated_new_token_is_refused_by_the_database() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 1).await;
        let t = token(1);
        seq.submit(t.clone()).await.unwrap();
        seq.submit(revocation(t.id())).await.unwrap();
        let Statement::Token(inner) = t.clone() else {
            unreachable!()
        };
        let refused = seq.submit_new(inner).await;
        assert!(
            matches!(refused, Err(SubmitError::Store(_))),
            "{}: {refused:?}",
            db.name
        );
        assert_eq!(store.tree_size().await.unwrap(), 2, "{}", db.name);
        // The sequencer reloaded the log and goes on from the same tree.
        let next = seq.submit(token(2)).await.unwrap();
        assert_eq!((next.leaf_index, next.tree_size), (2, 3), "{}", db.name);
        let again = seq.submit(t).await.unwrap();
        assert!(again.already_logged && again.leaf_index == 0, "{}", db.name);
        check_log_rules(store.as_ref()).await;
        seq.shutdown().await;
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn one_stone_one_active_token() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 1).await;
        let a = token_for("R-1", 1, None);
        seq.submit(a.clone()).await.unwrap();

        // A second token for the same stone without supersedes.
        let b = token_for("R-1", 2, None);
        match seq.submit(b).await {
            Err(SubmitError::ActiveTokenExists { current }) => assert_eq!(current, a.id()),
            other => panic!("{}: {other:?}", db.name),
        }
        // Naming another stone's token, or an unknown one.
        let other = token_for("R-2", 3, None);
        seq.submit(other.clone()).await.unwrap();
        for wrong in [other.id(), token(99).id()] {
            match seq.submit(token_for("R-1", 4, Some(wrong))).await {
                Err(SubmitError::SupersedesNotCurrent {
                    supersedes,
                    current,
                }) => {
                    assert_eq!((supersedes, current), (wrong, Some(a.id())));
                }
                other => panic!("{}: {other:?}", db.name),
            }
        }
        // A first token that claims to supersede something.
        match seq.submit(token_for("R-3", 5, Some(a.id()))).await {
            Err(SubmitError::SupersedesNotCurrent { current: None, .. }) => {}
            other => panic!("{}: {other:?}", db.name),
        }
        // The same report number at another issuer is another stone.
        seq.submit(token_of(
            &other_issuer_key(),
            "other.example",
            "R-1",
            6,
            None,
        ))
        .await
        .unwrap();

        // Superseding the current token works, then only the new one is current.
        let c = token_for("R-1", 7, Some(a.id()));
        seq.submit(c.clone()).await.unwrap();
        match seq.submit(token_for("R-1", 8, Some(a.id()))).await {
            Err(SubmitError::SupersedesNotCurrent { current, .. }) => {
                assert_eq!(current, Some(c.id()))
            }
            other => panic!("{}: {other:?}", db.name),
        }
        assert_eq!(
            store
                .current_token(ISSUER, "R-1")
                .await
                .unwrap()
                .unwrap()
                .token_id,
            c.id()
        );
        // After a revocation the stone has no active token: a new one may
        // start afresh (or name the revoked one).
        seq.submit(revocation(c.id())).await.unwrap();
        seq.submit(token_for("R-1", 9, None)).await.unwrap();
        seq.shutdown().await;
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn revocation_rules() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 1).await;
        let t = token(1);
        seq.submit(t.clone()).await.unwrap();

        let unknown = token(2).id();
        match seq.submit(revocation(unknown)).await {
            Err(SubmitError::RevokesUnknownToken { revokes }) => assert_eq!(revokes, unknown),
            other => panic!("{}: {other:?}", db.name),
        }
        match seq
            .submit(revocation_of(
                &other_issuer_key(),
                "other.example",
                t.id(),
                "not mine",
            ))
            .await
        {
            Err(SubmitError::RevokesOtherIssuer { revokes }) => assert_eq!(revokes, t.id()),
            other => panic!("{}: {other:?}", db.name),
        }
        let r = revocation(t.id());
        seq.submit(r.clone()).await.unwrap();
        match seq
            .submit(revocation_of(&issuer_key(), ISSUER, t.id(), "again"))
            .await
        {
            Err(SubmitError::AlreadyRevoked {
                revokes,
                revocation,
            }) => {
                assert_eq!((revokes, revocation), (t.id(), r.id()));
            }
            other => panic!("{}: {other:?}", db.name),
        }
        match seq.submit(revocation(r.id())).await {
            Err(SubmitError::RevokesRevocation { revokes }) => assert_eq!(revokes, r.id()),
            other => panic!("{}: {other:?}", db.name),
        }
        seq.shutdown().await;
        assert_eq!(store.tree_size().await.unwrap(), 2);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn conflicts_inside_one_batch() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let seq = spawn(&store, 400).await;
        let a = token_for("R-1", 1, None);
        let a_twin = token_for("R-1", 2, None);
        let b = token_for("R-2", 3, None);
        let b_next = token_for("R-2", 4, Some(b.id()));
        let b_fork = token_for("R-2", 5, Some(b.id()));
        let c = token_for("R-3", 6, None);
        let revoke_c = revocation(c.id());
        let revoke_c_again = revocation_of(&issuer_key(), ISSUER, c.id(), "twice");
        let c_after = token_for("R-3", 7, None);
        let revoke_later = revocation(token(8).id());
        let later = token(8);

        let answers = one_batch(
            &seq,
            &[
                &a,
                &a_twin,
                &b,
                &b_next,
                &b_fork,
                &c,
                &revoke_c,
                &revoke_c_again,
                &c_after,
                &revoke_later,
                &later,
            ],
        )
        .await;
        let size = answers[0].as_ref().unwrap().tree_size;
        let leaf = |i: usize| answers[i].as_ref().unwrap().leaf_index;
        assert!(
            matches!(&answers[1], Err(SubmitError::ActiveTokenExists { current }) if *current == a.id()),
            "{}: {:?}",
            db.name,
            answers[1]
        );
        assert_eq!(leaf(3), leaf(2) + 1, "supersedes a token of the same batch");
        assert!(matches!(
            &answers[4],
            Err(SubmitError::SupersedesNotCurrent { current: Some(cur), .. }) if *cur == b_next.id()
        ));
        assert!(answers[6].is_ok());
        assert!(matches!(
            &answers[7],
            Err(SubmitError::AlreadyRevoked { revocation, .. }) if *revocation == revoke_c.id()
        ));
        assert!(
            answers[8].is_ok(),
            "a new token after the batch revoked the old one"
        );
        assert!(
            matches!(&answers[9], Err(SubmitError::RevokesUnknownToken { .. })),
            "a revocation before its token"
        );
        assert!(answers[10].is_ok());
        for a in answers.iter().flatten() {
            assert_eq!(a.tree_size, size, "one batch, one checkpoint");
        }
        assert_eq!(size, 7);
        seq.shutdown().await;
        assert_eq!(store.tree_size().await.unwrap(), 7);
        store.close().await;
        db.cleanup().await;
    }
}

/// Replays the log and checks the rules entry by entry.
async fn check_log_rules(store: &dyn Store) {
    use std::collections::HashMap;
    let size = store.tree_size().await.unwrap();
    let entries = store
        .entries_range(0, u32::try_from(size).unwrap())
        .await
        .unwrap();
    // token id -> (iss, sub, revoked)
    let mut tokens: HashMap<_, (String, String, bool)> = HashMap::new();
    // (iss, sub) -> latest token
    let mut heads: HashMap<(String, String), _> = HashMap::new();
    for (i, bytes) in entries.iter().enumerate() {
        match Statement::parse(bytes).unwrap() {
            Statement::Token(t) => {
                let key = (t.claims().iss.clone(), t.claims().sub.clone());
                let head = heads.get(&key).copied();
                let head_revoked = head.is_some_and(|h| tokens[&h].2);
                match (head, t.provenance().supersedes) {
                    (None, None) => {}
                    (Some(_), None) => assert!(head_revoked, "entry {i}: second active token"),
                    (Some(h), Some(s)) => {
                        assert_eq!(h, s, "entry {i}: supersedes a non-current token")
                    }
                    (None, Some(_)) => panic!("entry {i}: supersedes without a current token"),
                }
                heads.insert(key.clone(), t.id());
                tokens.insert(t.id(), (key.0, key.1, false));
            }
            Statement::Revocation(r) => {
                let target = tokens
                    .get_mut(&r.revokes())
                    .unwrap_or_else(|| panic!("entry {i}: revokes an unknown token"));
                assert_eq!(
                    target.0,
                    r.claims().iss,
                    "entry {i}: revokes another issuer's token"
                );
                assert!(!target.2, "entry {i}: revokes a revoked token");
                target.2 = true;
            }
        }
    }
}

#[tokio::test]
async fn rules_hold_while_batches_are_in_flight() {
    for db in TestDb::all().await {
        let store = db.open().await;
        // Small batches, several in flight: dependent submissions race their
        // prerequisites, which are often validated but not yet committed.
        let seq = Sequencer::spawn(
            store.clone(),
            log_signer(),
            SequencerConfig {
                max_batch: 8,
                max_delay: Duration::ZERO,
            },
        )
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for stone in 0..40u64 {
            let sub = format!("S-{stone}");
            let first = token_for(&sub, stone * 10, None);
            let second = token_for(&sub, stone * 10 + 1, Some(first.id()));
            let rival = token_for(&sub, stone * 10 + 2, Some(first.id()));
            let revoke_second = revocation(second.id());
            let third = token_for(&sub, stone * 10 + 3, None);
            let steps = [
                first.clone(),
                second,
                rival,
                revoke_second.clone(),
                revoke_second,
                third,
                first,
            ];
            for (k, s) in steps.into_iter().enumerate() {
                let seq = seq.clone();
                tasks.push(tokio::spawn(async move {
                    for _ in 0..(k * 3 + (stone as usize % 5)) {
                        tokio::task::yield_now().await;
                    }
                    seq.submit(s).await
                }));
            }
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(SubmitError::Store(e)) => panic!("{}: a batch failed: {e:?}", db.name),
                Err(_) => {}
            }
        }
        seq.shutdown().await;
        assert!(ok >= 40, "{}: {ok} accepted", db.name);
        check_log_rules(store.as_ref()).await;
        store.close().await;
        db.cleanup().await;
    }
}
