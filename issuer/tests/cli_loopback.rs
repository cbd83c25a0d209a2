//! End to end over loopback with the real service: `demo`, and `serve` as
//! a process driven by `apikey`, `issue` (capture, flags, hash-locally,
//! supersedes, batch with a bad row and a resume) and `revoke`, on SQLite
//! and (when `LOUPE_TEST_POSTGRES_URL` is set) PostgreSQL. Tokens and
//! proofs are fetched back and verified with `loupe-schemas` against
//! `keys-example/`.

#![allow(clippy::expect_used)]

mod cli_support;
#[path = "store_support/mod.rs"]
mod store_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use cli_support::{closed_port, command, ok, one_line_error, run, stderr, stdout};
use loupe_issuer::client::{IssuerClient, TokenState};
use loupe_issuer::keys::{load_note_verifier, load_verifying_key};
use loupe_issuer::sample::{sample_report_number, write_sample_capture};
use loupe_schemas::bundle::{LogPolicy, ProofBundle};
use loupe_schemas::token::{Token, TokenId};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../keys-example");

fn keys(file: &str) -> String {
    format!("{KEYS}/{file}")
}

#[tokio::test]

async fn demo_issues_verifies_and_exits_0() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(tmp.path(), &["demo", "--dir", "demo"]).await;
    let text = ok(&out);
    assert!(!text.contains('✗'), "{text}");
    // Token, signature, claims, proof, checkpoint, 8 files, status.
    assert_eq!(text.matches('✓').count(), 14, "{text}");
    assert!(text.contains("All 14 checks passed."), "{text}");
    assert!(text.contains('█'), "the QR code is printed");
    let url_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("URL "))
        .expect("URL line");
    assert!(url_line.contains("http://127.0.0.1:") && url_line.contains("/t/"));
    let demo = tmp.path().join("demo");
    assert!(demo.join("loupe.db").is_file());
    assert!(demo.join("capture/report.pdf").is_file());
    assert!(
        std::fs::read_dir(demo.join("media"))
            .expect("media store")
            .next()
            .is_some(),
        "the uploaded files are kept"
    );
    // The working folder is not reused.
    let again = run(tmp.path(), &["demo", "--dir", "demo", "--no-qr"]).await;
    one_line_error(&again, 2, "is not empty");
}

/// A `loupe-issuer serve` process.
struct Server {
    child: tokio::process::Child,
    base: String,
    log: PathBuf,
}

impl Server {
    async fn start(dir: &Path, database_url: &str) -> Self {
        let addr = closed_port().to_string();
        let log = dir.join("serve.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = command(
            dir,
            &[
                "serve",
                "--listen",
                &addr,
                "--database-url",
                database_url,
                "--issuer-key",
                &keys("issuer.key.pem"),
                "--log-key",
                &keys("log.key.pem"),
                "--issuer-origin",
                "lab.example",
                "--log-origin",
                "lab.example/log",
                "--media-dir",
                "media",
                "--batch-delay",
                "5ms",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("serve starts");
        let base = format!("http://{addr}");
        let client = IssuerClient::new(&base, None).expect("client");
        for _ in 0..200 {
            if client.health().await.is_ok() {
                return Self { child, base, log };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "serve did not become healthy:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// SIGTERM, then the process must exit 0 (graceful shutdown).
    async fn stop(mut self) {
        let pid = self.child.id().expect("running").to_string();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(kill.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .expect("wait");
        assert!(
            status.success(),
            "serve exit {status}:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

/// Fetches a token and its proof over HTTP and verifies both against
/// `keys-example/`; returns the token.
async fn fetch_and_verify(client: &IssuerClient, id: &TokenId) -> Token {
    let bytes = client.token(id).await.expect("GET /t/{id}");
    let token = Token::parse(&bytes).expect("token parses");
    assert_eq!(token.id(), *id);
    let issuer = load_verifying_key(Path::new(&keys("issuer.pub.pem"))).expect("issuer key");
    token
        .verify(&issuer)
        .expect("signed by the example issuer key");
    let proof = client.proof(id).await.expect("GET proof");
    let vkey = load_note_verifier(Path::new(&keys("log.vkey"))).expect("vkey");
    let policy = LogPolicy::new("lab.example/log", vkey);
    ProofBundle::parse(proof.as_bytes())
        .expect("bundle parses")
        .verify(token.logged_bytes(), &policy, 0)
        .expect("proof verifies");
    token
}

fn token_id_in(stdout: &str) -> TokenId {
    let word = stdout
        .split_whitespace()
        .nth(2)
        .expect("issued token <id> …");
    word.parse().expect("a token id")
}

const STONE: &[&str] = &[
    "--variety",
    "Ruby",
    "--species",
    "Corundum",
    "--weight",
    "1.52",
    "--colour",
    "pigeon's blood red",
    "--shape",
    "oval",
    "--cut",
    "mixed",
    "--clarity",
    "VS",
    "--dimensions",
    "7.10x5.60x3.40",
    "--treatment",
    "none",
];

const HEADER: &str = "report_number,variety,species,weight_ct,colour,shape,cut,clarity,dimensions_mm,treatment,capture";

#[tokio::test]

async fn serve_issue_batch_revoke_on_every_database() {
    for db in store_support::TestDb::all().await {
        round_trip(&db.url).await;
        db.cleanup().await;
    }
}

async fn round_trip(database_url: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let created = run(
        dir,
        &[
            "apikey",
            "create",
            "--name",
            "e2e",
            "--database-url",
            database_url,
            "--issuer-origin",
            "lab.example",
        ],
    )
    .await;
    let api_key = ok(&created).trim().to_owned();
    let server = Server::start(dir, database_url).await;
    let base = server.base.clone();
    let client = IssuerClient::new(&base, None).expect("client");
    let issue = |rn: String, extra: Vec<String>| {
        let mut args: Vec<String> = [
            "issue",
            "--server",
            &base,
            "--api-key",
            &api_key,
            "--report-number",
            &rn,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(STONE.iter().map(|s| (*s).to_owned()));
        args.extend(extra);
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            run(dir, &refs).await
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();

    // One stone from a capture folder, uploaded.
    let cap = write_sample_capture(&dir.join("cap"), 0).expect("sample");
    let out = issue(cap.report_number.clone(), s(&["--capture", "cap"])).await;
    let first = token_id_in(&ok(&out));
    let token = fetch_and_verify(&client, &first).await;
    assert_eq!(token.claims().sub, cap.report_number);
    assert_eq!(token.provenance().images.len(), 6);

    // Again: 409, one line.
    let again = issue(cap.report_number.clone(), s(&["--capture", "cap"])).await;
    one_line_error(&again, 1, "active-token-exists");

    // A re-photographed stone supersedes it.
    let sup = first.to_string();
    let out = issue(
        cap.report_number.clone(),
        s(&["--capture", "cap", "--supersedes", &sup, "--hash-locally"]),
    )
    .await;
    let second = token_id_in(&ok(&out));
    fetch_and_verify(&client, &second).await;
    assert_eq!(
        client.status(&first).await.expect("status").status,
        TokenState::Superseded
    );

    // Files one by one.
    let out = issue(
        "LX-FLAGS".into(),
        s(&[
            "--report",
            "cap/report.pdf",
            "--image",
            "table=cap/table.png",
        ]),
    )
    .await;
    fetch_and_verify(&client, &token_id_in(&ok(&out))).await;

    // A batch with a bad row, then a resume after a lost results line.
    let mut rows = Vec::new();
    for v in 1..=4 {
        write_sample_capture(&dir.join(format!("caps/{v}")), v).expect("sample");
        rows.push(format!(
            "{},Ruby,Corundum,1.5{v},red,oval,mixed,VS,7x6x5,none,caps/{v}",
            sample_report_number(v)
        ));
    }
    rows.push("LX-BAD,Ruby,Corundum,heavy,red,oval,mixed,VS,7x6x5,none,caps/1".into());
    std::fs::write(
        dir.join("b.csv"),
        format!("{HEADER}\n{}\n", rows.join("\n")),
    )
    .expect("write");
    let batch = [
        "issue",
        "--batch",
        "b.csv",
        "--server",
        &base,
        "--api-key",
        &api_key,
        "--concurrency",
        "4",
    ];
    let out = run(dir, &batch).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 6: weight_ct"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("4 issued"), "{}", stdout(&out));
    let results = dir.join("b.results.csv");
    let text = std::fs::read_to_string(&results).expect("results");
    let kept: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(&results, format!("{}\n", kept.join("\n"))).expect("write");
    rows.pop();
    std::fs::write(
        dir.join("b.csv"),
        format!("{HEADER}\n{}\n", rows.join("\n")),
    )
    .expect("write");
    let out = run(dir, &batch).await;
    assert!(
        ok(&out).contains("0 issued, 2 already issued, 2 skipped"),
        "{}",
        stdout(&out)
    );
    let text = std::fs::read_to_string(&results).expect("results");
    assert_eq!(text.lines().count(), 5);
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let id: TokenId = cols[1].parse().expect("token id");
        assert_eq!(cols[2], format!("{base}/t/{id}"));
        fetch_and_verify(&client, &id).await;
    }

    // Revoke one.
    let victim = text
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').nth(1))
        .expect("a token")
        .to_owned();
    let out = run(
        dir,
        &[
            "revoke",
            &victim,
            "--reason",
            "re-cut",
            "--server",
            &base,
            "--api-key",
            &api_key,
        ],
    )
    .await;
    assert!(ok(&out).starts_with(&format!("revoked token {victim}")));
    let id: TokenId = victim.parse().expect("id");
    assert_eq!(
        client.status(&id).await.expect("status").status,
        TokenState::Revoked
    );

    // A revoked API key is refused.
    let listed = ok(&run(dir, &["apikey", "list", "--database-url", database_url]).await);
    let key_id = listed.split('\t').next().expect("id").to_owned();
    ok(&run(
        dir,
        &["apikey", "revoke", &key_id, "--database-url", database_url],
    )
    .await);
    // The service trusts a looked-up key for API_KEY_CACHE_TTL (documented):
    // past that, the revoked key is refused.
    tokio::time::sleep(
        loupe_issuer::app::API_KEY_CACHE_TTL + std::time::Duration::from_millis(300),
    )
    .await;
    let out = issue("LX-AFTER".into(), s(&["--capture", "cap"])).await;
    one_line_error(&out, 1, "401");

    server.stop().await;
}
