//! The `loupe` binary end to end: the demo's printed verify line works when
//! run, exit codes say the verdict, `--json` is the verdict schema, set-up
//! errors are one line with exit code 2, `loupe trust add` learns a real
//! issuer from its published keys, and `loupe verify URL` then works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};

use loupe_issuer::cli::demo::{self, DemoArgs};

fn loupe(args: &[String], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("HOME", dir)
        .env_remove("LOUPE_TRUST")
        .env_remove("LOUPE_STATE")
        .output()
        .expect("run loupe")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn run_demo(dir: &Path) {
    demo::run(DemoArgs {
        keys: support::keys_dir(),
        dir: Some(dir.to_owned()),
        listen: None,
        serve: false,
        no_qr: true,
    })
    .await
    .expect("demo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_verify_line_works_and_exit_codes_follow_the_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    run_demo(&dir).await;

    // The printed offline line, exactly.
    let args = demo::verify_offline_args(&dir);
    let out = loupe(&args, tmp.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("VALID"), "{stdout}");
    assert!(stdout.contains("✓ file report"), "{stdout}");
    assert!(
        stdout.contains("– status"),
        "offline: status skipped: {stdout}"
    );

    // --json is the verdict.
    let mut json_args = args.clone();
    json_args.insert(1, "--json".into());
    let out = loupe(&json_args, tmp.path());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"], "valid");
    assert!(v["checks"].as_array().is_some_and(|c| c.len() >= 10));

    // A report that differs by one byte: invalid, exit 1.
    let pdf = std::fs::read(dir.join("capture/report.pdf")).unwrap();
    let mut bad = pdf.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    let bad_path = tmp.path().join("other.pdf");
    std::fs::write(&bad_path, &bad).unwrap();
    let mut bad_args = args.clone();
    let at = bad_args.iter().position(|a| a == "--report").unwrap();
    bad_args[at + 1] = bad_path.display().to_string();
    let out = loupe(&bad_args, tmp.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("✗ file report"));

    // A flipped byte in the token: invalid, exit 1.
    let token = std::fs::read(dir.join(demo::DEMO_TOKEN_FILE)).unwrap();
    let mut t = token.clone();
    let last = t.len() - 1;
    t[last] ^= 0x40;
    let tampered = tmp.path().join("tampered.cose");
    std::fs::write(&tampered, &t).unwrap();
    let mut t_args = args.clone();
    *t_args.last_mut().unwrap() = tampered.display().to_string();
    let out = loupe(&t_args, tmp.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));

    // No proof offline: unknown, exit 5.
    let out = loupe(
        &[
            "verify".into(),
            "--trust".into(),
            dir.join(demo::DEMO_TRUST_FILE).display().to_string(),
            "--no-state".into(),
            "--offline".into(),
            dir.join(demo::DEMO_TOKEN_FILE).display().to_string(),
        ],
        tmp.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "--offline without --proof is a usage error"
    );
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );

    // inspect.
    let out = loupe(
        &[
            "inspect".into(),
            dir.join(demo::DEMO_TOKEN_FILE).display().to_string(),
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("issuer    lab.example"),
        "{}",
        text(&out.stdout)
    );
    let out = loupe(
        &["inspect".into(), bad_path.display().to_string()],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("loupe: error:") && err.contains("not a valid token"),
        "{err}"
    );
}

#[test]
fn set_up_errors_are_one_line_with_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_trust = tmp.path().join("bad.toml");
    std::fs::write(&bad_trust, "[[issuer]]\norigin = 3\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["verify".into(), "https://lab.example/t/x".into()],
            "no trust store",
        ),
        (
            vec![
                "verify".into(),
                "--trust".into(),
                bad_trust.display().to_string(),
                "https://lab.example/t/x".into(),
            ],
            "trust store",
        ),
        (
            vec![
                "verify".into(),
                "--trust".into(),
                support::keys_dir().join("trust.toml").display().to_string(),
                "--image".into(),
                "bottom=/dev/null".into(),
                "https://lab.example/t/x".into(),
            ],
            "not a photo or video role",
        ),
        (
            vec![
                "verify".into(),
                "--trust".into(),
                support::keys_dir().join("trust.toml").display().to_string(),
                "--no-state".into(),
                tmp.path().join("missing.cose").display().to_string(),
            ],
            "missing.cose",
        ),
    ];
    for (args, expect) in cases {
        let out = loupe(&args, tmp.path());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err} lacks {expect:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_add_learns_an_issuer_then_verify_by_url_and_qr_work() {
    let lab = support::Lab::start(false).await;
    let issued = lab.issue_json("CLI-1").await;
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust.toml");
    let state = tmp.path().join("state.json");
    let t = trust.display().to_string();
    let s = state.display().to_string();

    let out = loupe(
        &[
            "trust".into(),
            "add".into(),
            lab.public_base.clone(),
            "--trust".into(),
            t.clone(),
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("added issuer lab.example"));
    let out = loupe(
        &["trust".into(), "show".into(), "--trust".into(), t.clone()],
        tmp.path(),
    );
    assert!(
        text(&out.stdout).contains("log lab.example/log"),
        "{}",
        text(&out.stdout)
    );

    let verify = |input: String| {
        loupe(
            &[
                "verify".into(),
                "--trust".into(),
                t.clone(),
                "--state".into(),
                s.clone(),
                input,
            ],
            tmp.path(),
        )
    };
    let out = tokio::task::block_in_place(|| verify(issued.url.clone()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("✓ url_token_id"));
    assert!(state.is_file(), "the checkpoint was remembered");

    // A PNG of the QR code, as the issuer renders it.
    let png = lab
        .http
        .get(format!(
            "{}/v1/tokens/{}/qr.png",
            lab.issuer_base, issued.id
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let qr = tmp.path().join("qr.png");
    std::fs::write(&qr, &png).unwrap();
    let out = tokio::task::block_in_place(|| verify(qr.display().to_string()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // A URL at a host the trust store does not name: unknown, exit 5.
    let out = tokio::task::block_in_place(|| verify(format!("http://127.0.0.1:9/t/{}", issued.id)));
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("nothing was fetched"));

    // Revoked: exit 3.
    let revoke = lab
        .http
        .post(format!(
            "{}/v1/tokens/{}/revocations",
            lab.issuer_base, issued.id
        ))
        .bearer_auth(lab.api_key())
        .json(&serde_json::json!({ "reason": "report withdrawn" }))
        .send()
        .await
        .unwrap();
    assert!(revoke.status().is_success(), "{}", revoke.status());
    let out = tokio::task::block_in_place(|| verify(issued.url.clone()));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("REVOKED"));
    lab.stop().await;
}
