//! Scale-out on PostgreSQL, end to end: two real `loupe-issuer serve`
//! processes on one database. The first sequences the log; the second
//! stands by, hands its clients' submissions to the first through the
//! `pending` table, and takes over when the first is killed with SIGKILL.
//! Every acknowledged token must be in the log exactly once, provably at
//! its acknowledged index, and every checkpoint any client saw must be
//! consistent with the others. PostgreSQL only: skipped without
//! `LOUPE_TEST_POSTGRES_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "serve_support/mod.rs"]
mod serve_support;
#[path = "store_support/mod.rs"]
mod store_support;

use std::collections::{BTreeMap, HashMap};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::bundle::ProofBundle;
use loupe_schemas::checkpoint::open_checkpoint;
use loupe_schemas::merkle::verify_consistency;
use loupe_schemas::token::{Token, TokenId};
use serde_json::{Value, json};
use serve_support::{ORIGIN, api_key, claims, free_port, now, policy, serve, wait_healthy};
use sqlx::Connection as _;
use store_support::TestDb;

/// What a client was told: the token of report `n` is at this index,
/// proven at this checkpoint (already verified against the log key).
#[derive(Clone, Debug)]
struct Ack {
    n: usize,
    id: TokenId,
    leaf_index: u64,
    checkpoint_size: u64,
    checkpoint_root: [u8; 32],
    /// Which instance answered (0 or 1).
    via: usize,
}

/// An issuer process and its address.
struct Instance {
    child: Child,
    base: String,
}

impl Instance {
    fn start(db: &TestDb, dir: &std::path::Path, name: &str) -> Self {
        let port = free_port();
        let child = serve(
            &db.url,
            port,
            &dir.join("media"),
            Some(&dir.join(format!("{name}.log"))),
        );
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

struct Shared {
    http: reqwest::Client,
    key: String,
    acks: Mutex<Vec<Ack>>,
    /// Refusals and errors from instances that were not killed.
    failures: Mutex<Vec<String>>,
    next: AtomicUsize,
    stop: AtomicBool,
}

/// One client: issues tokens at `base` until `limit` reports were handed
/// out, `stop` is set, or the server is gone (connection refused: it was
/// killed). Records each 201 after verifying its proof; anything else is a
/// failure.
async fn client(shared: Arc<Shared>, base: String, via: usize, limit: usize) {
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        if n >= limit {
            return;
        }
        let Ok(r) = shared
            .http
            .post(format!("{base}/v1/tokens"))
            .bearer_auth(&shared.key)
            .json(&claims("SCALE", n))
            .send()
            .await
        else {
            return; // the server is gone
        };
        let status = r.status().as_u16();
        let Ok(v) = r.json::<Value>().await else {
            return; // killed while answering: not acknowledged
        };
        if status != 201 {
            shared
                .failures
                .lock()
                .unwrap()
                .push(format!("{base} report {n}: {status} {v}"));
            continue;
        }
        let bytes = STANDARD.decode(v["token"].as_str().unwrap()).unwrap();
        let token = Token::parse(&bytes).unwrap();
        let bundle = ProofBundle::parse(v["proof"].as_str().unwrap().as_bytes()).unwrap();
        let inc = bundle
            .verify(token.logged_bytes(), &policy(), now())
            .unwrap_or_else(|e| panic!("proof of report {n} from {base}: {e}"));
        let leaf_index = v["leaf_index"].as_u64().unwrap();
        assert_eq!(inc.leaf_index(), leaf_index, "report {n} from {base}");
        shared.acks.lock().unwrap().push(Ack {
            n,
            id: token.id(),
            leaf_index,
            checkpoint_size: inc.checkpoint().size(),
            checkpoint_root: *inc.checkpoint().root_hash(),
            via,
        });
    }
}

fn shared(key: String) -> Arc<Shared> {
    Arc::new(Shared {
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        key,
        acks: Mutex::default(),
        failures: Mutex::default(),
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    })
}

/// Whether `base` says, in `/metrics`, that it sequences the log.
async fn is_leader(http: &reqwest::Client, base: &str) -> Option<bool> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    if text.contains("\nloupe_sequencer_leader 1\n") {
        Some(true)
    } else if text.contains("\nloupe_sequencer_leader 0\n") {
        Some(false)
    } else {
        None
    }
}

async fn pg(db: &TestDb) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&db.url).await.unwrap()
}

/// The consistency proof from `base` between two checkpoints, verified.
async fn check_consistent(
    http: &reqwest::Client,
    base: &str,
    old: (u64, [u8; 32]),
    new: (u64, [u8; 32]),
) {
    if old.0 == new.0 {
        assert_eq!(old.1, new.1, "two checkpoints of size {} differ", old.0);
        return;
    }
    let v: Value = http
        .get(format!("{base}/v1/consistency?old={}&new={}", old.0, new.0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path: Vec<[u8; 32]> = v["path"]
        .as_array()
        .unwrap_or_else(|| panic!("no consistency path {} → {}: {v}", old.0, new.0))
        .iter()
        .map(|h| {
            STANDARD
                .decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    verify_consistency(old.0, new.0, &path, &old.1, &new.1)
        .unwrap_or_else(|e| panic!("checkpoints {} and {} inconsistent: {e}", old.0, new.0));
}

/// The log as served by `base` after the run: every acknowledged token
/// is logged exactly once (counted in the database), served by `base`,
/// and provably at its acknowledged index; every checkpoint the clients
/// saw is consistent with the others and with the latest one. Returns the
/// latest checkpoint's size.
async fn check_log(http: &reqwest::Client, base: &str, db: &TestDb, acks: &[Ack]) -> u64 {
    let mut conn = pg(db).await;
    let ids: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_id FROM entries")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut times: HashMap<Vec<u8>, usize> = HashMap::new();
    for id in ids {
        *times.entry(id).or_default() += 1;
    }
    let mut leaves = HashMap::new();
    for ack in acks {
        assert_eq!(
            times.get(ack.id.0.as_slice()).copied(),
            Some(1),
            "acknowledged token {} (report {}) not logged exactly once",
            ack.id,
            ack.n
        );
        assert!(
            leaves.insert(ack.leaf_index, ack.id).is_none(),
            "two acknowledgements share leaf {}",
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
        assert_eq!(TokenId::of_logged_bytes(&bytes), ack.id, "report {}", ack.n);
        let proof = http
            .get(format!("{base}/v1/tokens/{}/proof", ack.id))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let inc = ProofBundle::parse(proof.as_bytes())
            .unwrap()
            .verify(&bytes, &policy(), now())
            .unwrap_or_else(|e| panic!("proof of report {} from {base}: {e}", ack.n));
        assert_eq!(inc.leaf_index(), ack.leaf_index, "report {}", ack.n);
    }

    let note = http
        .get(format!("{base}/checkpoint"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let latest = open_checkpoint(note.as_bytes(), ORIGIN, &policy().log, &[], 0, now()).unwrap();
    let latest = (latest.size(), *latest.root_hash());
    let mut seen: BTreeMap<u64, [u8; 32]> = BTreeMap::new();
    for ack in acks {
        let root = *seen
            .entry(ack.checkpoint_size)
            .or_insert(ack.checkpoint_root);
        assert_eq!(
            root, ack.checkpoint_root,
            "two checkpoints of size {} differ",
            ack.checkpoint_size
        );
    }
    let seen: Vec<(u64, [u8; 32])> = seen.into_iter().collect();
    for pair in seen.windows(2) {
        check_consistent(http, base, pair[0], pair[1]).await;
    }
    if let Some(last) = seen.last() {
        assert!(latest.0 >= last.0, "the log rolled back below {}", last.0);
        check_consistent(http, base, *last, latest).await;
    }
    latest.0
}

async fn pending_rows(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM pending")
        .fetch_one(&mut pg(db).await)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_log() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let s = shared(api_key(&db.url));
    let http = s.http.clone();
    let mut a = Instance::start(&db, dir.path(), "a");
    assert_eq!(wait_healthy(&http, &a.base).await["sequencer"], "leader");
    // The second instance used to be refused; now it stands by.
    let mut b = Instance::start(&db, dir.path(), "b");
    assert_eq!(wait_healthy(&http, &b.base).await["sequencer"], "standby");
    assert_eq!(is_leader(&http, &a.base).await, Some(true));
    assert_eq!(is_leader(&http, &b.base).await, Some(false));

    // Clients on both, concurrently.
    const TOKENS: usize = 400;
    let mut clients = Vec::new();
    for i in 0..12 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        clients.push(tokio::spawn(client(s.clone(), base.clone(), i % 2, TOKENS)));
    }
    for c in clients {
        c.await.unwrap();
    }
    let failures = s.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "{failures:#?}");
    let acks = s.acks.lock().unwrap().clone();
    assert_eq!(acks.len(), TOKENS);
    let via_b = acks.iter().filter(|a| a.via == 1).count();
    assert!(via_b > 0 && via_b < TOKENS, "{via_b} of {TOKENS} via b");
    let size = check_log(&http, &b.base, &db, &acks).await;
    assert_eq!(size, TOKENS as u64, "nothing but the acknowledged tokens");
    // Reads are the same on both instances.
    let checkpoint = |base: String| {
        let http = http.clone();
        async move {
            http.get(format!("{base}/checkpoint"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        checkpoint(a.base.clone()).await,
        checkpoint(b.base.clone()).await
    );

    // The log's refusals come back through the standby, typed.
    let first = acks.iter().find(|a| a.n == 0).unwrap();
    let r = http
        .post(format!("{}/v1/tokens", b.base))
        .bearer_auth(&s.key)
        .json(&claims("SCALE", 0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["type"]
            .as_str()
            .unwrap()
            .ends_with("/active-token-exists"),
        "{v}"
    );
    assert_eq!(v["current_token"], first.id.to_string(), "{v}");
    let revoke = |id: TokenId| {
        http.post(format!("{}/v1/tokens/{id}/revocations", b.base))
            .bearer_auth(&s.key)
            .json(&json!({"reason": "withdrawn by the lab"}))
            .send()
    };
    let r = revoke(first.id).await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["leaf_index"], TOKENS as u64, "{v}");
    assert_eq!(v["revokes"], first.id.to_string());
    let r = revoke(first.id).await.unwrap();
    assert_eq!(r.status().as_u16(), 409, "revoked twice");
    let r = revoke(TokenId([7; 32])).await.unwrap();
    assert_eq!(r.status().as_u16(), 404, "unknown token");
    let status: Value = http
        .get(format!("{}/v1/tokens/{}/status", a.base, first.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "revoked", "{status}");

    // Every outcome was collected by its submitter.
    assert_eq!(pending_rows(&db).await, 0);

    // A row whose statement is already logged (the leader died between
    // the commit and writing the outcome back) is answered with the
    // existing index, not logged again.
    let logged: Vec<u8> = sqlx::query_scalar("SELECT statement FROM entries WHERE leaf_index = $1")
        .bind(i64::try_from(first.leaf_index).unwrap())
        .fetch_one(&mut pg(&db).await)
        .await
        .unwrap();
    let entries_before = db.count("entries").await;
    sqlx::query(
        "INSERT INTO pending (token_id, statement, instance, created_at) \
         VALUES ($1, $2, 'recovery-test', 0)",
    )
    .bind(first.id.0.as_slice())
    .bind(&logged)
    .execute(&mut pg(&db).await)
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (leaf, already): (Option<i64>, Option<bool>) = loop {
        let row: (Option<i64>, Option<bool>) = sqlx::query_as(
            "SELECT leaf_index, already_logged FROM pending WHERE instance = 'recovery-test'",
        )
        .fetch_one(&mut pg(&db).await)
        .await
        .unwrap();
        if row.0.is_some() || Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(leaf, Some(i64::try_from(first.leaf_index).unwrap()));
    assert_eq!(already, Some(true));
    assert_eq!(db.count("entries").await, entries_before);

    a.kill();
    b.kill();
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_leader_fails_over_to_the_standby() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let s = shared(api_key(&db.url));
    let http = s.http.clone();
    let mut a = Instance::start(&db, dir.path(), "a");
    assert_eq!(wait_healthy(&http, &a.base).await["sequencer"], "leader");
    let mut b = Instance::start(&db, dir.path(), "b");
    assert_eq!(wait_healthy(&http, &b.base).await["sequencer"], "standby");

    let mut clients = Vec::new();
    for i in 0..12 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        clients.push(tokio::spawn(client(
            s.clone(),
            base.clone(),
            i % 2,
            usize::MAX,
        )));
    }
    let count = |via: usize| {
        s.acks
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.via == via)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while (count(0) < 150 || count(1) < 50) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = (count(0), count(1));
    assert!(before.0 >= 150 && before.1 >= 50, "too slow: {before:?}");

    // Kill the leader mid-stream; the standby takes the lock.
    a.kill();
    let killed = Instant::now();
    let takeover = loop {
        if is_leader(&http, &b.base).await == Some(true) {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no takeover within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // The survivor keeps logging.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(1) < before.1 + 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let after_b = count(1) - before.1;
    assert!(after_b >= 100, "only {after_b} logged via b after the kill");
    let failures = s.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "the survivor's clients were refused: {failures:#?}"
    );

    let acks = s.acks.lock().unwrap().clone();
    let size = check_log(&http, &b.base, &db, &acks).await;
    assert_eq!(pending_rows(&db).await, 0, "outcomes left uncollected");

    // The killed instance comes back as a standby and hands off to b.
    let mut a2 = Instance::start(&db, dir.path(), "a2");
    assert_eq!(wait_healthy(&http, &a2.base).await["sequencer"], "standby");
    let r = http
        .post(format!("{}/v1/tokens", a2.base))
        .bearer_auth(&s.key)
        .json(&claims("AFTER", 0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    assert!(v["leaf_index"].as_u64().unwrap() >= size, "{v}");

    let log = std::fs::read_to_string(dir.path().join("b.log")).unwrap_or_default();
    let line = log
        .lines()
        .find(|l| l.contains("took the sequencer lock"))
        .unwrap_or("(no log line)");
    println!(
        "takeover after SIGKILL: {} ms until b reported leader; {} + {} acknowledged via a + b \
         before the kill, {after_b} via b after; log size {size}; b: {line}",
        takeover.as_millis(),
        before.0,
        before.1
    );
    b.kill();
    a2.kill();
    db.cleanup().await;
}
