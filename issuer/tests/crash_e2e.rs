//! Crash safety, end to end: a real `loupe-issuer serve` process is killed
//! with SIGKILL while clients submit tokens concurrently, then restarted.
//! Every token the service acknowledged must be in the log with a valid
//! inclusion proof at its acknowledged index, and the new checkpoint must be
//! consistent with the newest one any client saw before the kill. Runs on
//! SQLite, and on PostgreSQL when `LOUPE_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "serve_support/mod.rs"]
mod serve_support;
#[path = "store_support/mod.rs"]
mod store_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::bundle::ProofBundle;
use loupe_schemas::checkpoint::open_checkpoint;
use loupe_schemas::merkle::verify_consistency;
use loupe_schemas::token::{Token, TokenId};
use serde_json::Value;
use serve_support::{ORIGIN, api_key, claims, free_port, now, policy, serve, wait_healthy};
use store_support::TestDb;

/// What a client was told: the token is at this index, proven at this checkpoint.
struct Ack {
    id: TokenId,
    leaf_index: u64,
    checkpoint_size: u64,
    checkpoint_root: [u8; 32],
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_issuance_loses_no_acknowledged_token() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    for db in TestDb::all().await {
        let dir = tempfile::tempdir().unwrap();
        let key = api_key(&db.url);
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut child = serve(&db.url, port, &dir.path().join("media"), None);
        wait_healthy(&http, &base).await;

        let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut clients = Vec::new();
        for _ in 0..16 {
            let (http, base, key, acks, next) = (
                http.clone(),
                base.clone(),
                key.clone(),
                acks.clone(),
                next.clone(),
            );
            clients.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Ok(r) = http
                        .post(format!("{base}/v1/tokens"))
                        .bearer_auth(&key)
                        .json(&claims("CRASH", n))
                        .send()
                        .await
                    else {
                        return; // the server is gone
                    };
                    if r.status().as_u16() != 201 {
                        return;
                    }
                    let Ok(v) = r.json::<Value>().await else {
                        return;
                    };
                    // Only a complete 201 answer is an acknowledgement.
                    let bytes = STANDARD.decode(v["token"].as_str().unwrap()).unwrap();
                    let token = Token::parse(&bytes).unwrap();
                    let bundle =
                        ProofBundle::parse(v["proof"].as_str().unwrap().as_bytes()).unwrap();
                    let inc = bundle
                        .verify(token.logged_bytes(), &policy(), now())
                        .unwrap();
                    acks.lock().unwrap().push(Ack {
                        id: token.id(),
                        leaf_index: v["leaf_index"].as_u64().unwrap(),
                        checkpoint_size: inc.checkpoint().size(),
                        checkpoint_root: *inc.checkpoint().root_hash(),
                    });
                }
            }));
        }
        // Let acknowledgements accumulate, then kill mid-stream.
        let deadline = Instant::now() + Duration::from_secs(20);
        while acks.lock().unwrap().len() < 300 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for c in clients {
            c.await.unwrap();
        }
        let acks = std::mem::take(&mut *acks.lock().unwrap());
        assert!(
            acks.len() >= 100,
            "too few acknowledgements before the kill on {}: {}",
            db.name,
            acks.len()
        );
        let newest = acks.iter().max_by_key(|a| a.checkpoint_size).unwrap();
        let (seen_size, seen_root) = (newest.checkpoint_size, newest.checkpoint_root);

        // Restart on the same database.
        let mut child = serve(&db.url, port, &dir.path().join("media"), None);
        wait_healthy(&http, &base).await;
        let note = http
            .get(format!("{base}/checkpoint"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let cp = open_checkpoint(note.as_bytes(), ORIGIN, &policy().log, &[], 0, now()).unwrap();
        assert!(
            cp.size() >= seen_size,
            "rolled back on {}: {} < {seen_size}",
            db.name,
            cp.size()
        );
        let v: Value = http
            .get(format!(
                "{base}/v1/consistency?old={seen_size}&new={}",
                cp.size()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let path: Vec<[u8; 32]> = v["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                STANDARD
                    .decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        verify_consistency(seen_size, cp.size(), &path, &seen_root, cp.root_hash()).unwrap_or_else(
            |e| {
                panic!(
                    "new checkpoint inconsistent with the last seen on {}: {e}",
                    db.name
                )
            },
        );

        // Every acknowledged token: present, at its index, provably included.
        let mut indexes = HashMap::new();
        for ack in &acks {
            assert!(
                indexes.insert(ack.leaf_index, ack.id).is_none(),
                "two acks share leaf {}",
                ack.leaf_index
            );
            let bytes = http
                .get(format!("{base}/t/{}", ack.id))
                .header("accept", "application/cose")
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(
                TokenId::of_logged_bytes(&bytes),
                ack.id,
                "acknowledged token {} lost on {}",
                ack.id,
                db.name
            );
            let proof = http
                .get(format!("{base}/v1/tokens/{}/proof", ack.id))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let bundle = ProofBundle::parse(proof.as_bytes()).unwrap();
            let inc = bundle.verify(&bytes, &policy(), now()).unwrap();
            assert_eq!(inc.leaf_index(), ack.leaf_index);
        }
        println!(
            "{}: {} acknowledged before SIGKILL, all present; log {} → {}",
            db.name,
            acks.len(),
            seen_size,
            cp.size()
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
