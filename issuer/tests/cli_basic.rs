//! The `loupe-issuer` binary's local commands, run as a process: `keygen`,
//! `apikey create/list/revoke` on a fresh SQLite database (and PostgreSQL
//! when `LOUPE_TEST_POSTGRES_URL` is set), `qr`, and one-line errors.

#![allow(clippy::expect_used)]

mod cli_support;
#[path = "store_support/mod.rs"]
mod store_support;

use cli_support::{ok, one_line_error, run_blocking, stderr, stdout};
use loupe_issuer::apikey::{ApiKey, KeyHash};
use loupe_issuer::keys::{load_log_signer, load_note_verifier, load_signing_key};
use loupe_issuer::store::open_store;

#[test]
fn keygen_writes_five_files_with_private_modes_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run_blocking(
        tmp.path(),
        &["keygen", "--out", "keys", "--issuer", "gems.example"],
    );
    let text = ok(&out);
    assert!(text.contains("wrote 5 files"), "{text}");
    assert!(text.contains("gems.example/log+"), "{text}");
    let dir = tmp.path().join("keys");
    load_signing_key(&dir.join("issuer.key.pem")).expect("issuer key loads");
    load_log_signer(&dir.join("log.key.pem"), "gems.example/log").expect("log key loads");
    let vkey = load_note_verifier(&dir.join("log.vkey")).expect("vkey loads");
    assert_eq!(vkey.name(), "gems.example/log");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |f: &str| {
            std::fs::metadata(dir.join(f))
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("issuer.key.pem"), 0o600);
        assert_eq!(mode("log.key.pem"), 0o600);
        assert_eq!(mode("issuer.pub.pem"), 0o644);
        assert_eq!(mode("log.vkey"), 0o644);
    }
    let before = std::fs::read(dir.join("issuer.key.pem")).expect("read");
    let again = run_blocking(
        tmp.path(),
        &["keygen", "--out", "keys", "--issuer", "gems.example"],
    );
    one_line_error(&again, 1, "refusing to overwrite");
    assert_eq!(
        std::fs::read(dir.join("issuer.key.pem")).expect("read"),
        before
    );

    let custom = run_blocking(
        tmp.path(),
        &[
            "keygen",
            "--out",
            "k2",
            "--issuer",
            "gems.example",
            "--log-origin",
            "transparency.gems.example",
        ],
    );
    ok(&custom);
    let vkey = load_note_verifier(&tmp.path().join("k2/log.vkey")).expect("vkey");
    assert_eq!(vkey.name(), "transparency.gems.example");
    let bad = run_blocking(
        tmp.path(),
        &["keygen", "--out", "k3", "--issuer", "https://gems.example"],
    );
    one_line_error(&bad, 1, "is a URL");
}

#[tokio::test]
async fn apikey_create_list_revoke_on_every_database() {
    for db in store_support::TestDb::all().await {
        apikey_round_trip(&db).await;
        db.cleanup().await;
    }
}

async fn apikey_round_trip(tdb: &store_support::TestDb) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tdb.url.clone();
    let create = |name: &str| {
        run_blocking(
            tmp.path(),
            &[
                "apikey",
                "create",
                "--name",
                name,
                "--database-url",
                &db,
                "--issuer-origin",
                "lab.example",
            ],
        )
    };
    let first = create("bench 1");
    let key_text = ok(&first).trim().to_owned();
    assert_eq!(key_text.lines().count(), 1, "only the key on stdout");
    let key = ApiKey::parse(&key_text).expect("a well-formed key");
    assert!(stderr(&first).contains("shown only this once"));
    ok(&create("bench 2"));

    // Only the hash is stored, scoped to the issuer.
    let store = open_store(&db).await.expect("store");
    let stored = store
        .api_key_by_hash(key.hash().as_bytes())
        .await
        .expect("lookup")
        .expect("stored");
    assert_eq!(stored.name, "bench 1");
    assert_eq!(stored.issuer, "lab.example");
    assert_eq!(
        stored.key_hash,
        KeyHash::of_plaintext(&key_text).as_bytes().to_vec()
    );
    store.close().await;
    if !tdb.is_postgres() {
        let file = db.strip_prefix("sqlite://").expect("sqlite url");
        let raw = std::fs::read(file).expect("db file");
        assert!(
            !raw.windows(key_text.len())
                .any(|w| w == key_text.as_bytes()),
            "the plaintext key is not in the database file"
        );
    }

    let list = ok(&run_blocking(
        tmp.path(),
        &["apikey", "list", "--database-url", &db],
    ));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{} {list}", tdb.name);
    assert!(lines[0].starts_with(&format!("{}\tbench 1\tlab.example\t", stored.id)));
    assert!(lines[0].contains("\tactive\t"), "{list}");
    assert!(!list.contains(&key_text));

    let id = stored.id.to_string();
    ok(&run_blocking(
        tmp.path(),
        &["apikey", "revoke", &id, "--database-url", &db],
    ));
    let list = ok(&run_blocking(
        tmp.path(),
        &["apikey", "list", "--database-url", &db],
    ));
    assert!(
        list.lines()
            .next()
            .is_some_and(|l| l.contains("\trevoked ")),
        "{list}"
    );
    let again = run_blocking(
        tmp.path(),
        &["apikey", "revoke", &id, "--database-url", &db],
    );
    one_line_error(&again, 1, "no active API key has id");
    let bad_url = run_blocking(
        tmp.path(),
        &["apikey", "list", "--database-url", "mysql://x"],
    );
    one_line_error(&bad_url, 1, "invalid database_url");
    let empty_name = run_blocking(
        tmp.path(),
        &["apikey", "create", "--name", " ", "--database-url", &db],
    );
    one_line_error(&empty_name, 2, "--name");
}

fn decode_qr(png: &[u8]) -> String {
    let img = image::load_from_memory(png).expect("PNG").to_luma8();
    let (w, h) = img.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            img.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().expect("decodes").1
}

#[test]
fn qr_png_decodes_to_the_url_and_svg_and_terminal_work() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = "https://lab.example/t/47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";
    ok(&run_blocking(tmp.path(), &["qr", url, "--png", "q.png"]));
    let png = std::fs::read(tmp.path().join("q.png")).expect("png written");
    assert_eq!(decode_qr(&png), url);

    // A bare token id with a base URL becomes the same URL.
    let id = &url[url.len() - 43..];
    ok(&run_blocking(
        tmp.path(),
        &[
            "qr",
            id,
            "--base-url",
            "https://lab.example/",
            "--png",
            "id.png",
            "--module-px",
            "3",
        ],
    ));
    let png = std::fs::read(tmp.path().join("id.png")).expect("png written");
    assert_eq!(decode_qr(&png), url);

    ok(&run_blocking(tmp.path(), &["qr", url, "--svg", "q.svg"]));
    let svg = std::fs::read_to_string(tmp.path().join("q.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains(url));

    let term = run_blocking(tmp.path(), &["qr", url]);
    let text = ok(&term);
    assert!(
        text.contains('█') && text.trim_end().ends_with(url),
        "{text}"
    );

    one_line_error(&run_blocking(tmp.path(), &["qr", id]), 2, "--base-url");
    one_line_error(
        &run_blocking(tmp.path(), &["qr", "lab.example/t/x"]),
        2,
        "neither an http(s) URL nor a token id",
    );
    one_line_error(
        &run_blocking(tmp.path(), &["qr", url, "--png", "no/such/dir/q.png"]),
        1,
        "cannot write no/such/dir/q.png",
    );
}

#[test]
fn wrong_flags_are_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let table: &[(&[&str], &str)] = &[
        (&["--bogus"], "unexpected argument '--bogus'"),
        (&[], "a subcommand is required"),
        (&["launch"], "unrecognized subcommand 'launch'"),
        (&["keygen", "--out", "k"], "--issuer <ORIGIN>"),
        (&["issue", "--weight", "heavy"], "is not a weight in carats"),
        (
            &["issue", "--batch", "b.csv", "--capture", "d"],
            "cannot be used with",
        ),
        (&["issue", "--concurrency", "0"], "--concurrency"),
        (&["revoke", "not-an-id", "--reason", "x"], "TOKEN_ID"),
        (&["apikey"], "a subcommand is required"),
        (&["serve", "--listen", "everywhere"], "--listen"),
        (&["demo", "--frob"], "unexpected argument '--frob'"),
    ];
    for (args, needle) in table {
        let out = run_blocking(tmp.path(), args);
        let line = one_line_error(&out, 2, needle);
        assert!(line.ends_with("see --help"), "{args:?}: {line}");
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
    // Help and version still print normally, on stdout, exit 0.
    let help = run_blocking(tmp.path(), &["issue", "--help"]);
    assert!(ok(&help).contains("--hash-locally"));
    assert!(ok(&run_blocking(tmp.path(), &["--version"])).starts_with("loupe-issuer "));
}

#[test]
fn runtime_errors_are_one_line_and_exit_1() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let closed = cli_support::closed_port();
    let server = format!("http://{closed}");
    let key = ApiKey::generate().0.expose_secret().to_owned();
    let stone: Vec<&str> = ["--report-number", "LX-1"]
        .into_iter()
        .chain(cli_support::STONE.iter().copied())
        .collect();
    let issue = |extra: &[&str]| {
        let mut args = vec!["issue", "--server", &server, "--api-key", &key];
        args.extend_from_slice(&stone);
        args.extend_from_slice(extra);
        run_blocking(tmp.path(), &args)
    };
    one_line_error(
        &issue(&["--capture", "nowhere"]),
        1,
        "cannot read capture folder nowhere",
    );
    let cap =
        loupe_issuer::sample::write_sample_capture(&tmp.path().join("cap"), 0).expect("sample");
    std::fs::remove_file(cap.dir.join("girdle.png")).expect("rm");
    one_line_error(&issue(&["--capture", "cap"]), 1, "is missing girdle");
    one_line_error(
        &issue(&["--report", "cap/report.pdf", "--image", "side=nope.png"]),
        1,
        "nope.png (side) is not a readable file",
    );
    one_line_error(
        &issue(&["--report", "cap/report.pdf"]),
        1,
        "cannot reach the issuer",
    );
    let no_key = run_blocking(
        tmp.path(),
        &[
            &["issue", "--server", &server][..],
            &stone,
            &["--report", "cap/report.pdf"],
        ]
        .concat(),
    );
    one_line_error(&no_key, 1, "an API key is required");
    one_line_error(
        &run_blocking(
            tmp.path(),
            &[
                &["issue", "--api-key", "secret"][..],
                &stone,
                &["--report", "cap/report.pdf"],
            ]
            .concat(),
        ),
        2,
        "not a Loupe API key",
    );
    one_line_error(
        &run_blocking(tmp.path(), &["demo", "--keys", "nowhere"]),
        2,
        "nowhere has no issuer.key.pem",
    );
    one_line_error(
        &run_blocking(tmp.path(), &["serve", "--database-url", "mysql://db"]),
        1,
        "invalid database_url",
    );
}
