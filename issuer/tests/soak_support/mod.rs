//! The crash-and-soak run shared by `tests/soak.rs` (a short run in the
//! normal suite) and `examples/soak.rs` (the long run of
//! `docs/reliability.md`).
//!
//! A real `loupe-issuer serve` process takes a steady rate of issuance
//! requests from a few concurrent HTTP clients and is SIGKILLed and
//! restarted on the same database every `kill_every`. A client whose
//! request got no complete answer retries the same report number until it
//! gets one: a `201` is an acknowledgement, an `active-token-exists` 409 on
//! a retry means the earlier attempt was logged but never acknowledged.
//! At the end, against the last server:
//!
//! - the whole log is read back through the `tlog-tiles` entry bundles and
//!   hashed; its root must be the final checkpoint's;
//! - every acknowledged token must sit at its acknowledged index and its
//!   `GET /v1/tokens/{id}/proof` bundle must verify (lost = 0);
//! - no token id and no report number may appear twice in the log
//!   (duplicates = 0), and the log must hold exactly the acknowledged tokens
//!   plus the logged-but-unacknowledged ones;
//! - every checkpoint a client was given must be consistent with the final
//!   one (RFC 9162 consistency proof from the server), hence with each
//!   other.
//!
//! The server's resident set (`VmRSS` of `/proc/PID/status`) is sampled
//! every second of every life.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::bundle::ProofBundle;
use loupe_schemas::checkpoint::open_checkpoint;
use loupe_schemas::merkle::{Hash, leaf_hash, root_from_leaf_hashes, verify_consistency};
use loupe_schemas::tiles::{TILE_WIDTH, TileCoords, decode_entry_bundle};
use loupe_schemas::token::{Token, TokenId};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::serve_support::{
    ORIGIN, api_key_with, claims, free_port, now, policy, serve_with, wait_healthy,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// The `loupe-issuer` binary.
    pub bin: PathBuf,
    /// The (fresh) database the server runs on.
    pub database_url: String,
    /// `sqlite` or `postgres`, for the summary.
    pub label: String,
    /// How long clients submit.
    pub duration: Duration,
    /// The server is SIGKILLed this long into each life (none in the last).
    pub kill_every: Duration,
    /// Target issuance rate, tokens per second, over all clients.
    pub rate: u32,
    /// Concurrent HTTP clients.
    pub clients: usize,
    /// RSS is compared from this long into each life (after warm-up).
    pub warmup: Duration,
    /// Media directory and one `server-<life>.log` (stderr) per life.
    pub work_dir: PathBuf,
}

/// One server process, from start to SIGKILL (or the end of the run).
#[derive(Debug, Clone, Default)]
pub struct Life {
    /// Process id.
    pub pid: u32,
    /// Seconds it lived (until SIGKILL, or until the last sample).
    pub seconds: f64,
    /// KiB resident once healthy.
    pub rss_start: u64,
    /// KiB resident at the first sample after warm-up, if it lived that long.
    pub rss_warm: Option<u64>,
    /// KiB resident at the last sample.
    pub rss_end: u64,
    /// Largest `VmRSS` sampled.
    pub rss_max: u64,
    /// The kernel's high-water mark (`VmHWM`) at the last sample.
    pub rss_hwm: u64,
    /// KiB of anonymous memory (`RssAnon`) at the last sample.
    pub anon_end: u64,
}

/// The outcome of a run; [`SoakReport::problems`] is empty when it passed.
#[derive(Debug, Default)]
pub struct SoakReport {
    pub label: String,
    /// Seconds clients submitted.
    pub seconds: f64,
    /// Target rate.
    pub rate: u32,
    /// Report numbers submitted (each until a definite answer).
    pub submitted: u64,
    /// `201` answers.
    pub acknowledged: u64,
    /// Logged by a killed server without an acknowledgement (found by the
    /// retry's `active-token-exists`).
    pub logged_unacknowledged: u64,
    /// Requests that got no complete answer and were retried.
    pub retries: u64,
    /// SIGKILLs.
    pub kills: u32,
    /// Final log size.
    pub log_size: u64,
    /// Acknowledged tokens missing, misplaced or not provable.
    pub lost: u64,
    /// Token ids or report numbers logged more than once.
    pub duplicates: u64,
    /// Distinct checkpoints clients were given.
    pub checkpoints_seen: u64,
    /// Of those, not consistent with the final checkpoint.
    pub inconsistent: u64,
    /// One line per unexpected event (status, parse failure, panic in a
    /// server log, accounting mismatch).
    pub failures: Vec<String>,
    /// Every server process, in order; the last one's samples stop when
    /// the clients do.
    pub lives: Vec<Life>,
    /// KiB resident in the last server after the checks (which read the
    /// whole log back through it).
    pub rss_after_checks: u64,
    /// Of that, anonymous memory (`RssAnon`).
    pub anon_after_checks: u64,
}

impl SoakReport {
    /// Everything that makes the run a failure.
    pub fn problems(&self) -> Vec<String> {
        let mut p = self.failures.clone();
        if self.lost > 0 {
            p.push(format!("{} acknowledged tokens lost", self.lost));
        }
        if self.duplicates > 0 {
            p.push(format!("{} duplicates in the log", self.duplicates));
        }
        if self.inconsistent > 0 {
            p.push(format!("{} inconsistent checkpoints", self.inconsistent));
        }
        p
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {:.0} s at {} tokens/s target, {} kills; {} submitted, {} acknowledged ({:.0}/s), \
             {} logged but unacknowledged, {} retries; log size {}",
            self.label,
            self.seconds,
            self.rate,
            self.kills,
            self.submitted,
            self.acknowledged,
            self.acknowledged as f64 / self.seconds.max(1e-9),
            self.logged_unacknowledged,
            self.retries,
            self.log_size
        )?;
        writeln!(
            f,
            "{}: lost={} duplicates={} checkpoints seen={} inconsistent={} failures={}",
            self.label,
            self.lost,
            self.duplicates,
            self.checkpoints_seen,
            self.inconsistent,
            self.failures.len()
        )?;
        let mib = |kib: u64| kib as f64 / 1024.0;
        for (i, l) in self.lives.iter().enumerate() {
            writeln!(
                f,
                "{}: life {i} pid {} {:.0} s: RSS start {:.1} MiB, warm {}, end {:.1} MiB (anon {:.1}), max {:.1} MiB (HWM {:.1} MiB)",
                self.label,
                l.pid,
                l.seconds,
                mib(l.rss_start),
                l.rss_warm
                    .map_or_else(|| "-".to_owned(), |w| format!("{:.1} MiB", mib(w))),
                mib(l.rss_end),
                mib(l.anon_end),
                mib(l.rss_max),
                mib(l.rss_hwm),
            )?;
        }
        let max = self.lives.iter().map(|l| l.rss_max).max().unwrap_or(0);
        write!(
            f,
            "{}: RSS max over all lives {:.1} MiB; {:.1} MiB (anon {:.1}) after the checks read the log back",
            self.label,
            mib(max),
            mib(self.rss_after_checks),
            mib(self.anon_after_checks)
        )?;
        for failure in &self.failures {
            write!(f, "\n{}: FAILURE {failure}", self.label)?;
        }
        Ok(())
    }
}

/// `VmRSS` and `VmHWM` of `pid` in KiB, or `None` once it is gone.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((
        status_field(&status, "VmRSS:")?,
        status_field(&status, "VmHWM:")?,
    ))
}

/// `RssAnon` (heap, stacks) of `pid` in KiB: the part of `VmRSS` that is
/// not file pages (the binary, SQLite's memory map of the database).
pub fn rss_anon_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&status, "RssAnon:")
}

fn status_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
}

/// What a client was told by a `201`.
struct Ack {
    id: TokenId,
    leaf_index: u64,
    checkpoint: (u64, Hash),
}

/// What the clients learnt.
#[derive(Default)]
struct Ledger {
    acks: Vec<Ack>,
    /// Logged without acknowledgement: report `n`, the logged token.
    unacked: Vec<(u64, TokenId)>,
    retries: u64,
    failures: Vec<String>,
}

/// A running server and the samples of its current life.
struct Server {
    bin: PathBuf,
    db: String,
    port: u16,
    work_dir: PathBuf,
    child: Child,
    started: Instant,
    life: Life,
    lives: Vec<Life>,
}

impl Server {
    async fn start(
        bin: &Path,
        db: &str,
        port: u16,
        work_dir: &Path,
        http: &reqwest::Client,
        base: &str,
        lives: Vec<Life>,
    ) -> Self {
        let log = work_dir.join(format!("server-{}.log", lives.len()));
        let child = serve_with(bin, db, port, &work_dir.join("media"), Some(&log));
        wait_healthy(http, base).await;
        let pid = child.id();
        let (rss, hwm) = rss_kib(pid).unwrap_or_default();
        Self {
            bin: bin.to_owned(),
            db: db.to_owned(),
            port,
            work_dir: work_dir.to_owned(),
            child,
            started: Instant::now(),
            life: Life {
                pid,
                rss_start: rss,
                rss_end: rss,
                rss_max: rss,
                rss_hwm: hwm,
                ..Life::default()
            },
            lives,
        }
    }

    fn sample(&mut self, warmup: Duration) {
        if let Some((rss, hwm)) = rss_kib(self.life.pid) {
            self.life.rss_end = rss;
            self.life.rss_hwm = hwm;
            self.life.rss_max = self.life.rss_max.max(rss);
            self.life.anon_end = rss_anon_kib(self.life.pid).unwrap_or(0);
            if self.life.rss_warm.is_none() && self.started.elapsed() >= warmup {
                self.life.rss_warm = Some(rss);
            }
            self.life.seconds = self.started.elapsed().as_secs_f64();
        }
    }

    /// SIGKILL, then a new process on the same database and port.
    async fn kill_and_restart(mut self, http: &reqwest::Client, base: &str) -> Self {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
        self.life.seconds = self.started.elapsed().as_secs_f64();
        let mut lives = std::mem::take(&mut self.lives);
        lives.push(self.life.clone());
        Self::start(
            &self.bin,
            &self.db,
            self.port,
            &self.work_dir,
            http,
            base,
            lives,
        )
        .await
    }

    /// Every life so far, the current one as it is now (it keeps serving).
    fn finish_load(&mut self) -> Vec<Life> {
        let mut lives = std::mem::take(&mut self.lives);
        lives.push(self.life.clone());
        lives
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Submits report `n` until it gets a definite answer.
async fn submit(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    n: u64,
    give_up: Instant,
    ledger: &Mutex<Ledger>,
) {
    let mut attempts = 0u32;
    let body = claims("SOAK", usize::try_from(n).unwrap());
    loop {
        if Instant::now() > give_up {
            ledger
                .lock()
                .unwrap()
                .failures
                .push(format!("report {n}: no answer after {attempts} attempts"));
            return;
        }
        if attempts > 0 {
            ledger.lock().unwrap().retries += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        attempts += 1;
        let Ok(r) = http
            .post(format!("{base}/v1/tokens"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
        else {
            continue; // the server is gone or restarting
        };
        let status = r.status().as_u16();
        // Only a complete answer counts: a body cut by the kill is no answer.
        let Ok(text) = r.text().await else {
            continue;
        };
        match status {
            201 => {
                let result = (|| {
                    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    let bytes = STANDARD
                        .decode(v["token"].as_str().ok_or("no token")?)
                        .map_err(|e| e.to_string())?;
                    let token = Token::parse(&bytes).map_err(|e| e.to_string())?;
                    let bundle =
                        ProofBundle::parse(v["proof"].as_str().ok_or("no proof")?.as_bytes())
                            .map_err(|e| e.to_string())?;
                    let inc = bundle
                        .verify(token.logged_bytes(), &policy(), now())
                        .map_err(|e| e.to_string())?;
                    let leaf_index = v["leaf_index"].as_u64().ok_or("no leaf_index")?;
                    if leaf_index != inc.leaf_index() {
                        return Err(format!(
                            "leaf_index {leaf_index} but proof for {}",
                            inc.leaf_index()
                        ));
                    }
                    Ok(Ack {
                        id: token.id(),
                        leaf_index,
                        checkpoint: (inc.checkpoint().size(), *inc.checkpoint().root_hash()),
                    })
                })();
                let mut l = ledger.lock().unwrap();
                match result {
                    Ok(ack) => l.acks.push(ack),
                    Err(e) => l.failures.push(format!("report {n}: bad 201: {e}")),
                }
                return;
            }
            409 if attempts > 1 => {
                let v: Value = serde_json::from_str(&text).unwrap_or_default();
                let current = v["current_token"]
                    .as_str()
                    .and_then(|s| s.parse::<TokenId>().ok());
                let mut l = ledger.lock().unwrap();
                match current {
                    Some(id) => l.unacked.push((n, id)),
                    None => l.failures.push(format!("report {n}: 409 {text}")),
                }
                return;
            }
            503 => continue, // not accepting entries (yet)
            _ => {
                ledger
                    .lock()
                    .unwrap()
                    .failures
                    .push(format!("report {n}: unexpected {status} {text}"));
                return;
            }
        }
    }
}

/// Runs the soak and checks the log; see the [module docs](self).
pub async fn run(cfg: &SoakConfig) -> SoakReport {
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::fs::create_dir_all(&cfg.work_dir).unwrap();
    let key = api_key_with(&cfg.bin, &cfg.database_url);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(cfg.clients)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut server = Server::start(
        &cfg.bin,
        &cfg.database_url,
        port,
        &cfg.work_dir,
        &http,
        &base,
        Vec::new(),
    )
    .await;

    // A steady rate: the pacer hands out one permit per tick and keeps at
    // most `clients` in reserve, so a restart is not followed by a burst.
    let permits = Arc::new(Semaphore::new(0));
    let started = Instant::now();
    let deadline = started + cfg.duration;
    let give_up = deadline + Duration::from_secs(120);
    let pacer = {
        let permits = permits.clone();
        let (rate, cap) = (cfg.rate.max(1), cfg.clients);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while Instant::now() < deadline {
                tick.tick().await;
                if permits.available_permits() < cap {
                    permits.add_permits(1);
                }
            }
            permits.close();
        })
    };
    let ledger: Arc<Mutex<Ledger>> = Arc::default();
    let next = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..cfg.clients {
        let (http, base, key, permits, next, ledger) = (
            http.clone(),
            base.clone(),
            key.clone(),
            permits.clone(),
            next.clone(),
            ledger.clone(),
        );
        clients.push(tokio::spawn(async move {
            while let Ok(permit) = permits.acquire().await {
                permit.forget();
                let n = next.fetch_add(1, Ordering::Relaxed);
                submit(&http, &base, &key, n, give_up, &ledger).await;
            }
        }));
    }

    // The supervisor: samples RSS every second, kills on schedule.
    let mut kills = 0u32;
    let mut next_kill = started + cfg.kill_every;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.sample(cfg.warmup);
        if Instant::now() >= next_kill && next_kill + Duration::from_secs(1) < deadline {
            server = server.kill_and_restart(&http, &base).await;
            kills += 1;
            next_kill = Instant::now() + cfg.kill_every;
        }
    }
    pacer.await.unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    server.sample(cfg.warmup);

    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    let mut report = SoakReport {
        label: cfg.label.clone(),
        seconds,
        rate: cfg.rate,
        submitted: next.load(Ordering::Relaxed),
        acknowledged: ledger.acks.len() as u64,
        logged_unacknowledged: ledger.unacked.len() as u64,
        retries: ledger.retries,
        kills,
        failures: ledger.failures,
        ..SoakReport::default()
    };
    let pid = server.life.pid;
    report.lives = server.finish_load();
    check_log(&http, &base, &ledger.acks, &ledger.unacked, &mut report).await;
    report.rss_after_checks = rss_kib(pid).map_or(0, |(rss, _)| rss);
    report.anon_after_checks = rss_anon_kib(pid).unwrap_or(0);
    server.stop();
    for (i, _) in report.lives.iter().enumerate() {
        let log = std::fs::read_to_string(cfg.work_dir.join(format!("server-{i}.log")))
            .unwrap_or_default();
        if log.contains("panicked") {
            report
                .failures
                .push(format!("server life {i} panicked: {log}"));
        }
    }
    report
}

async fn get(http: &reqwest::Client, url: &str) -> Result<reqwest::Response, String> {
    let r = http.get(url).send().await.map_err(|e| e.to_string())?;
    if r.status().is_success() {
        Ok(r)
    } else {
        Err(format!("GET {url}: {}", r.status()))
    }
}

/// The checks against the final server.
async fn check_log(
    http: &reqwest::Client,
    base: &str,
    acks: &[Ack],
    unacked: &[(u64, TokenId)],
    report: &mut SoakReport,
) {
    let note = get(http, &format!("{base}/checkpoint"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cp = open_checkpoint(note.as_bytes(), ORIGIN, &policy().log, &[], 0, now()).unwrap();
    let (size, root) = (cp.size(), *cp.root_hash());
    report.log_size = size;

    // The whole log, read back as a monitor would, must hash to the root.
    let mut ids: Vec<TokenId> = Vec::new();
    let mut leaves: Vec<Hash> = Vec::new();
    let mut by_id: HashMap<TokenId, u64> = HashMap::new();
    let mut by_report: HashMap<String, u64> = HashMap::new();
    let width = u64::from(TILE_WIDTH);
    for tile in 0..size.div_ceil(width) {
        let w = u16::try_from((size - tile * width).min(width)).unwrap();
        let path = TileCoords::new(0, tile, w).unwrap().entries_path().unwrap();
        let data = get(http, &format!("{base}/{path}"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        for entry in decode_entry_bundle(&data, w).unwrap() {
            let index = ids.len() as u64;
            let id = TokenId::of_logged_bytes(entry);
            leaves.push(leaf_hash(entry));
            ids.push(id);
            if by_id.insert(id, index).is_some() {
                report.duplicates += 1;
                report
                    .failures
                    .push(format!("token {id} logged twice (again at {index})"));
            }
            match Token::parse(entry) {
                Ok(t) => {
                    if let Some(first) = by_report.insert(t.claims().sub.clone(), index) {
                        report.duplicates += 1;
                        report.failures.push(format!(
                            "report {} logged at {first} and {index}",
                            t.claims().sub
                        ));
                    }
                }
                Err(e) => report
                    .failures
                    .push(format!("entry {index} is not a token: {e}")),
            }
        }
    }
    if root_from_leaf_hashes(&leaves) != root {
        report
            .failures
            .push("the entry bundles do not hash to the final checkpoint's root".into());
    }

    // Every acknowledged token: at its index, with a proof that verifies.
    let mut acked: HashSet<TokenId> = HashSet::new();
    let mut pending = Vec::new();
    for ack in acks {
        acked.insert(ack.id);
        if ids.get(usize::try_from(ack.leaf_index).unwrap()) != Some(&ack.id) {
            report.lost += 1;
            report.failures.push(format!(
                "acknowledged token {} not at leaf {}",
                ack.id, ack.leaf_index
            ));
        }
        pending.push((ack.id, ack.leaf_index));
    }
    let lost_proofs = Arc::new(Mutex::new(Vec::new()));
    let pending = Arc::new(Mutex::new(pending));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (http, base, pending, lost_proofs) = (
            http.clone(),
            base.to_owned(),
            pending.clone(),
            lost_proofs.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let Some((id, leaf)) = pending.lock().unwrap().pop() else {
                    return;
                };
                let result = async {
                    let bytes = get(&http, &format!("{base}/t/{id}"))
                        .await?
                        .bytes()
                        .await
                        .map_err(|e| e.to_string())?;
                    if TokenId::of_logged_bytes(&bytes) != id {
                        return Err(format!("GET /t/{id} returned another token"));
                    }
                    let proof = get(&http, &format!("{base}/v1/tokens/{id}/proof"))
                        .await?
                        .text()
                        .await
                        .map_err(|e| e.to_string())?;
                    let inc = ProofBundle::parse(proof.as_bytes())
                        .map_err(|e| e.to_string())?
                        .verify(&bytes, &policy(), now())
                        .map_err(|e| e.to_string())?;
                    if inc.leaf_index() != leaf {
                        return Err(format!("proven at {} not {leaf}", inc.leaf_index()));
                    }
                    Ok(())
                }
                .await;
                if let Err(e) = result {
                    lost_proofs
                        .lock()
                        .unwrap()
                        .push(format!("acknowledged token {id}: {e}"));
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let lost_proofs = std::mem::take(&mut *lost_proofs.lock().unwrap());
    report.lost += lost_proofs.len() as u64;
    report.failures.extend(lost_proofs);

    // The log holds the acknowledged tokens and the logged-unacknowledged
    // ones, nothing else.
    let unacked_ids: HashSet<TokenId> = unacked.iter().map(|(_, id)| *id).collect();
    if acked.len() != acks.len() {
        report
            .failures
            .push("one token id acknowledged twice".to_owned());
    }
    for (n, id) in unacked {
        if acked.contains(id) || !by_id.contains_key(id) {
            report.failures.push(format!(
                "report {n}: the 409 names {id}, which is acknowledged or not logged"
            ));
        }
    }
    let expected = acked.len() as u64 + unacked_ids.len() as u64;
    if size != expected {
        report.failures.push(format!(
            "log size {size} but {} acknowledged + {} logged-unacknowledged = {expected}",
            acked.len(),
            unacked_ids.len()
        ));
    }
    for id in by_id.keys() {
        if !acked.contains(id) && !unacked_ids.contains(id) {
            report
                .failures
                .push(format!("token {id} is logged but no client knows of it"));
        }
    }

    // Every checkpoint a client saw is consistent with the final one.
    let seen: BTreeSet<(u64, Hash)> = acks.iter().map(|a| a.checkpoint).collect();
    report.checkpoints_seen = seen.len() as u64;
    for (old, old_root) in seen {
        let result = async {
            let v: Value = get(http, &format!("{base}/v1/consistency?old={old}&new={size}"))
                .await?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let path: Vec<Hash> = v["path"]
                .as_array()
                .ok_or("no path")?
                .iter()
                .map(|h| {
                    STANDARD
                        .decode(h.as_str().unwrap_or_default())
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .ok_or("bad hash")
                })
                .collect::<Result<_, _>>()?;
            verify_consistency(old, size, &path, &old_root, &root).map_err(|e| e.to_string())
        }
        .await;
        if let Err(e) = result {
            report.inconsistent += 1;
            report
                .failures
                .push(format!("checkpoint {old} inconsistent with {size}: {e}"));
        }
    }
}
