//! The `loupe-issuer` binary's API commands (`issue` single, capture,
//! `--hash-locally`, `--batch` with bad rows and resume; `revoke`) over
//! loopback against a mock of the issuer's write API
//! ([`cli_support::mock`]). The same flows against the real service are in
//! `cli_loopback.rs`.

#![allow(clippy::expect_used)]

mod cli_support;

use std::path::Path;

use cli_support::mock::Mock;
use cli_support::{ok, one_line_error, run, stderr, stdout};
use loupe_issuer::client::Issuance;
use loupe_issuer::sample::{sample_report_number, write_sample_capture};
use loupe_schemas::token::TokenId;

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

async fn issue(dir: &Path, mock: &Mock, rn: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "issue",
        "--server",
        &mock.base,
        "--api-key",
        &mock.api_key,
        "--report-number",
        rn,
    ];
    args.extend_from_slice(STONE);
    args.extend_from_slice(extra);
    run(dir, &args).await
}

#[tokio::test]
async fn issue_one_stone_from_a_capture_folder_and_from_flags() {
    let mock = Mock::start().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = write_sample_capture(&tmp.path().join("cap"), 0).expect("sample");

    let out = issue(tmp.path(), &mock, &cap.report_number, &["--capture", "cap"]).await;
    let text = ok(&out);
    assert!(text.starts_with("issued token "), "{text}");
    assert!(
        text.contains(&format!("url:        {}/t/", mock.base)),
        "{text}"
    );
    let active = mock.active(&cap.report_number).expect("issued");
    assert!(text.contains(&active.to_string()));

    // The same stone again: refused, one line naming the active token.
    let again = issue(tmp.path(), &mock, &cap.report_number, &["--capture", "cap"]).await;
    let line = one_line_error(&again, 1, "409 active-token-exists");
    assert!(line.contains(&active.to_string()), "{line}");

    // Superseding it is allowed.
    let sup = active.to_string();
    let out = issue(
        tmp.path(),
        &mock,
        &cap.report_number,
        &["--capture", "cap", "--supersedes", &sup, "--json"],
    )
    .await;
    let answer: Issuance = serde_json::from_str(&ok(&out)).expect("--json prints the answer");
    assert_ne!(answer.token_id, active);
    assert_eq!(mock.active(&cap.report_number), Some(answer.token_id));

    // Files named one by one, hashed locally (JSON, no upload).
    let out = issue(
        tmp.path(),
        &mock,
        "LX-FLAGS-1",
        &[
            "--report",
            "cap/report.pdf",
            "--image",
            "face-up=cap/face-up.png",
            "--image",
            "swatch=cap/swatch.png",
            "--video",
            "light-play=cap/light-play.mp4",
            "--hash-locally",
        ],
    )
    .await;
    ok(&out);
    assert_eq!(mock.issued(), 3);

    // A wrong API key: the server's 401 problem, on one line.
    let mut wrong = Mock::start().await;
    wrong.api_key = loupe_issuer::apikey::ApiKey::generate()
        .0
        .expose_secret()
        .to_owned();
    let out = issue(tmp.path(), &wrong, "LX-2", &["--capture", "cap"]).await;
    one_line_error(&out, 1, "401 unauthorized");
}

#[tokio::test]
async fn revoke_a_token() {
    let mock = Mock::start().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let cap = write_sample_capture(&tmp.path().join("cap"), 0).expect("sample");
    ok(&issue(tmp.path(), &mock, &cap.report_number, &["--capture", "cap"]).await);
    let id = mock.active(&cap.report_number).expect("issued").to_string();
    let args = [
        "revoke",
        id.as_str(),
        "--reason",
        "stone re-cut",
        "--server",
        &mock.base,
        "--api-key",
        &mock.api_key,
    ];
    let text = ok(&run(tmp.path(), &args).await);
    assert!(
        text.starts_with(&format!("revoked token {id} (revocation ")),
        "{text}"
    );
    assert_eq!(mock.active(&cap.report_number), None);
    let unknown = TokenId([1; 32]).to_string();
    let mut args = args;
    args[1] = &unknown;
    one_line_error(&run(tmp.path(), &args).await, 1, "404 not-found");
    let mut args = args.to_vec();
    args[3] = " ";
    one_line_error(&run(tmp.path(), &args).await, 2, "--reason");
}

const HEADER: &str = "report_number,variety,species,weight_ct,colour,shape,cut,clarity,dimensions_mm,treatment,origin,capture";

fn csv_row(variant: u32, weight: &str, capture: &str) -> String {
    format!(
        "{},Ruby,Corundum,{weight},red,oval,mixed,VS,7.10x5.60x3.40,none,Myanmar,{capture}",
        sample_report_number(variant)
    )
}

fn results_rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("results file")
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn batch_reports_bad_rows_and_resumes_without_reissuing() {
    let mock = Mock::start().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for v in 1..=6 {
        write_sample_capture(&dir.join(format!("caps/{v}")), v).expect("sample");
    }
    // Lines 2-7: stones 1-4 good, 5 has a bad weight, 6 has no capture folder.
    let rows = [
        csv_row(1, "1.53", "caps/1"),
        csv_row(2, "1.54", "caps/2"),
        csv_row(3, "1.55", "caps/3"),
        csv_row(4, "1.56", "caps/4"),
        csv_row(5, "1.5x", "caps/5"),
        csv_row(6, "1.58", "caps/missing"),
    ];
    std::fs::write(
        dir.join("stones.csv"),
        format!("{HEADER}\n{}\n", rows.join("\n")),
    )
    .expect("write");
    let batch = |extra: &'static [&'static str]| {
        let mut args = vec![
            "issue".to_owned(),
            "--batch".to_owned(),
            "stones.csv".to_owned(),
            "--server".to_owned(),
            mock.base.clone(),
            "--api-key".to_owned(),
            mock.api_key.clone(),
            "--concurrency".to_owned(),
            "3".to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let go = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run(dir, &refs).await
    };

    let first = go(batch(&[])).await;
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let err = stderr(&first);
    assert!(
        err.contains("line 6: weight_ct: \"1.5x\" is not a weight"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "line 7: {}: cannot read capture folder",
            sample_report_number(6)
        )),
        "{err}"
    );
    assert!(
        err.trim_end().ends_with(
            "2 of 6 rows failed (reported above); fix them and run the same command again to resume"
        ),
        "{err}"
    );
    assert!(
        stdout(&first).contains("4 issued, 0 already issued, 0 skipped"),
        "{}",
        stdout(&first)
    );
    let results = dir.join("stones.results.csv");
    assert_eq!(results_rows(&results).len(), 4);
    assert_eq!(mock.issued(), 4);

    // A crash after the issuer answered, before the results were written:
    // drop the last two rows and tear the last line.
    let text = std::fs::read_to_string(&results).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.truncate(3);
    std::fs::write(
        &results,
        format!("{}\n{}", lines.join("\n"), "LX-2026-S0000"),
    )
    .expect("write");

    // Fix the bad rows; the re-run skips the two listed stones, records the
    // two the issuer already has, and issues only the fixed rows.
    std::fs::create_dir_all(dir.join("caps/missing")).expect("mkdir");
    for entry in std::fs::read_dir(dir.join("caps/6")).expect("ls") {
        let entry = entry.expect("entry");
        std::fs::copy(
            entry.path(),
            dir.join("caps/missing").join(entry.file_name()),
        )
        .expect("copy");
    }
    let fixed: Vec<String> = rows.iter().map(|r| r.replace(",1.5x,", ",1.57,")).collect();
    std::fs::write(
        dir.join("stones.csv"),
        format!("{HEADER}\n{}\n", fixed.join("\n")),
    )
    .expect("write");
    let requests_before = mock.requests();
    let second = go(batch(&[])).await;
    let text = ok(&second);
    assert!(
        text.contains("2 issued, 2 already issued, 2 skipped"),
        "{text}"
    );
    let err = stderr(&second);
    assert_eq!(err.matches("already issued").count(), 2, "{err}");
    assert_eq!(
        mock.requests() - requests_before,
        4,
        "listed stones are not sent again"
    );
    assert_eq!(mock.issued(), 6, "no stone was issued twice");

    let rows = results_rows(&results);
    assert_eq!(rows.len(), 6, "{rows:?}");
    for v in 1..=6 {
        let rn = sample_report_number(v);
        let id = mock.active(&rn).expect("issued").to_string();
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("{rn},")))
            .expect("listed");
        assert_eq!(row, &format!("{rn},{id},{}/t/{id}", mock.base));
    }

    // Everything done: a third run sends nothing.
    let before = mock.requests();
    let third = go(batch(&[])).await;
    assert!(ok(&third).contains("0 issued, 0 already issued, 6 skipped"));
    assert_eq!(mock.requests(), before);
}

#[tokio::test]
async fn a_jsonl_batch_with_hashing_and_an_unreachable_server() {
    let mock = Mock::start().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mut lines = Vec::new();
    for v in 10..14 {
        let cap = write_sample_capture(&dir.join(format!("c{v}")), v).expect("sample");
        lines.push(
            serde_json::json!({
                "report_number": cap.report_number,
                "stone": cap.stone,
                "files": {"report": format!("c{v}/report.pdf"), "face-up": format!("c{v}/face-up.png")},
            })
            .to_string(),
        );
    }
    lines.insert(2, "{\"report_number\": 5}".to_owned());
    std::fs::write(dir.join("b.jsonl"), lines.join("\n")).expect("write");
    let out = run(
        dir,
        &[
            "issue",
            "--batch",
            "b.jsonl",
            "--results",
            "out.csv",
            "--hash-locally",
            "--server",
            &mock.base,
            "--api-key",
            &mock.api_key,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("line 3: report_number: invalid type"),
        "{}",
        stderr(&out)
    );
    assert_eq!(results_rows(&dir.join("out.csv")).len(), 4);
    assert_eq!(mock.issued(), 4);

    // No server: the run stops at once, on one line, and can be resumed.
    let closed = format!("http://{}", cli_support::closed_port());
    std::fs::remove_file(dir.join("out.csv")).expect("rm");
    let out = run(
        dir,
        &[
            "issue",
            "--batch",
            "b.jsonl",
            "--results",
            "out.csv",
            "--server",
            &closed,
            "--api-key",
            &mock.api_key,
        ],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    let last = err.lines().last().expect("a line");
    assert!(last.starts_with("error: stopped after "), "{err}");
    assert!(last.contains("cannot reach the issuer"), "{err}");
    assert!(results_rows(&dir.join("out.csv")).is_empty());
}
