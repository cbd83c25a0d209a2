//! `loupe-issuer entries` against a real log: a sequencer writes tokens
//! signed by two keys and a revocation into a database (SQLite, and
//! PostgreSQL when `LOUPE_TEST_POSTGRES_URL` is set), then the binary lists
//! them with each filter — the listing step 5 of the stolen-key runbook
//! relies on.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;
#[path = "store_support/mod.rs"]
mod store_support;

use std::time::Duration;

use cli_support::{ok, one_line_error, run};
use loupe_issuer::sequencer::{Sequencer, SequencerConfig};
use loupe_schemas::token::{Kid, Statement};
use serde_json::Value;
use store_support::{
    ISSUER, TestDb, issuer_key, log_signer, other_issuer_key, revocation, token_of,
};

/// Logs, in order: tokens 0 and 1 signed with the issuer key, tokens 2
/// and 3 with the other key (as after a theft), then the revocation of
/// token 2 signed with the issuer key. Returns the statements.
async fn fill(db: &TestDb) -> Vec<Statement> {
    let store = loupe_issuer::store::open_store(&db.url).await.unwrap();
    let seq = Sequencer::spawn(
        store,
        log_signer(),
        SequencerConfig {
            max_batch: 8,
            max_delay: Duration::from_millis(1),
        },
    )
    .await
    .unwrap();
    let mut statements = vec![
        token_of(&issuer_key(), ISSUER, "R-0", 0, None),
        token_of(&issuer_key(), ISSUER, "R-1", 1, None),
        token_of(&other_issuer_key(), ISSUER, "R-2", 2, None),
        token_of(&other_issuer_key(), ISSUER, "R-3", 3, None),
    ];
    statements.push(revocation(statements[2].id()));
    for (i, s) in statements.iter().enumerate() {
        let done = seq.submit(s.clone()).await.unwrap();
        assert_eq!(done.leaf_index, i as u64);
    }
    seq.shutdown().await;
    statements
}

fn kid_of(key: &ed25519_dalek::SigningKey) -> String {
    Kid::of(&key.verifying_key()).to_string()
}

#[tokio::test]
async fn entries_lists_the_log_by_index_key_and_kind() {
    let mut dbs = vec![TestDb::sqlite()];
    dbs.extend(TestDb::postgres().await);
    for db in dbs {
        let statements = fill(&db).await;
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        let entries = |extra: &[&str]| {
            let mut args = vec!["entries", "--database-url", db.url.as_str()];
            args.extend_from_slice(extra);
            args.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        let list = |extra: &[&str]| {
            let args = entries(extra);
            async move {
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                ok(&run(cwd, &refs).await)
            }
        };
        let ids = |picks: &[usize]| -> String {
            picks
                .iter()
                .map(|&i| format!("{}\n", statements[i].id()))
                .collect()
        };
        let stolen = kid_of(&other_issuer_key());
        let genuine = kid_of(&issuer_key());

        // The runbook's query: entries from N signed with the stolen key.
        assert_eq!(
            list(&["--from", "1", "--kid", &stolen, "--ids"]).await,
            ids(&[2, 3]),
            "[{}]",
            db.name
        );
        assert_eq!(list(&["--kid", &genuine, "--ids"]).await, ids(&[0, 1, 4]));
        assert_eq!(list(&["--from", "3", "--ids"]).await, ids(&[3, 4]));
        assert_eq!(list(&["--until", "2", "--ids"]).await, ids(&[0, 1]));
        assert_eq!(
            list(&["--kind", "revocation", "--format", "ids"]).await,
            ids(&[4])
        );
        assert_eq!(
            list(&["--kid", &stolen, "--kind", "revocation", "--ids"]).await,
            ""
        );

        // The text table: a header and one row per entry.
        let text = list(&[]).await;
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(rows.len(), 6, "{text}");
        assert_eq!(rows[0][0], "index");
        assert_eq!(
            rows[3],
            [
                "2",
                "token",
                &statements[2].id().to_string(),
                &stolen,
                "1700000002",
                "R-2"
            ]
        );
        assert_eq!(rows[5][1], "revocation");
        assert_eq!(rows[5][5], statements[2].id().to_string());

        // JSON lines carry the same.
        let jsonl = list(&["--format", "jsonl", "--from", "4"]).await;
        let v: Value = serde_json::from_str(jsonl.trim()).unwrap();
        assert_eq!(v["leaf_index"], 4);
        assert_eq!(v["kind"], "revocation");
        assert_eq!(v["kid"], genuine);
        assert_eq!(v["revokes"], statements[2].id().to_string());

        // Bad arguments: one line, non-zero exit, nothing listed.
        for (extra, needle) in [
            (&["--until", "6"][..], "beyond the log"),
            (&["--kid", "abcd"][..], "32 hex digits"),
            (&["--kid", "zz"][..], "32 hex digits"),
            (&["--kind", "photo"][..], "token` or `revocation"),
        ] {
            let args = entries(extra);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            one_line_error(&run(cwd, &refs).await, 2, needle);
        }
        db.cleanup().await;
    }
}
