//! Unit tests of the command-line parsing: every command, its defaults,
//! and one-line usage errors.

use std::path::Path;

use clap::error::ErrorKind;

use super::*;

fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    let mut all = vec!["loupe-issuer"];
    all.extend_from_slice(args);
    parse_args(all).map(|c| c.command)
}

#[test]
fn serve_takes_the_serve_settings() {
    let Command::Serve(args) = parse(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "sqlite://x.db",
    ])
    .expect("ok") else {
        panic!("not serve");
    };
    assert_eq!(args.listen, Some("127.0.0.1:0".parse().expect("addr")));
    assert_eq!(args.database_url.as_deref(), Some("sqlite://x.db"));
    assert!(parse(&["serve", "--listen", "nowhere"]).is_err());
}

#[test]
fn keygen_needs_out_and_issuer() {
    let Command::Keygen(k) =
        parse(&["keygen", "--out", "k", "--issuer", "lab.example"]).expect("ok")
    else {
        panic!("not keygen");
    };
    assert_eq!(k.out, Path::new("k"));
    assert_eq!(k.log_origin, None);
    for bad in [
        &["keygen"][..],
        &["keygen", "--out", "k"],
        &["keygen", "--issuer", "x"],
    ] {
        let e = parse(bad).expect_err("missing flag");
        assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument, "{bad:?}");
    }
}

#[test]
fn apikey_subcommands() {
    let Command::Apikey(apikey::ApikeyCommand::Create { name, store }) = parse(&[
        "apikey",
        "create",
        "--name",
        "bench 1",
        "--database-url",
        "sqlite://k.db",
    ])
    .expect("ok") else {
        panic!("not create");
    };
    assert_eq!(name, "bench 1");
    assert_eq!(store.database_url.as_deref(), Some("sqlite://k.db"));
    assert!(matches!(
        parse(&["apikey", "list"]).expect("ok"),
        Command::Apikey(apikey::ApikeyCommand::List { .. })
    ));
    assert!(matches!(
        parse(&["apikey", "revoke", "7"]).expect("ok"),
        Command::Apikey(apikey::ApikeyCommand::Revoke { id: 7, .. })
    ));
    assert!(parse(&["apikey", "revoke", "seven"]).is_err());
    assert!(parse(&["apikey", "create"]).is_err(), "--name is required");
}

#[test]
fn revoke_needs_a_token_id_and_a_reason() {
    let id = loupe_schemas::token::TokenId([1; 32]).to_string();
    let Command::Revoke(r) = parse(&["revoke", &id, "--reason", "re-cut"]).expect("ok") else {
        panic!("not revoke");
    };
    assert_eq!(r.token_id.to_string(), id);
    assert_eq!(r.server.server, "http://127.0.0.1:8080");
    assert!(parse(&["revoke", &id]).is_err(), "no reason");
    assert!(
        parse(&["revoke", "abc", "--reason", "x"]).is_err(),
        "not a token id"
    );
}

#[test]
fn qr_outputs_exclude_each_other() {
    let Command::Qr(q) = parse(&["qr", "https://l/t/x"]).expect("ok") else {
        panic!("not qr");
    };
    assert_eq!(q.module_px, crate::qr::DEFAULT_MODULE_PX);
    assert!(parse(&["qr", "u", "--svg", "a", "--png", "b"]).is_err());
    assert!(parse(&["qr", "u", "--module-px", "0"]).is_err());
    assert!(parse(&["qr"]).is_err());
}

#[test]
fn demo_defaults_to_the_example_keys() {
    let Command::Demo(d) = parse(&["demo"]).expect("ok") else {
        panic!("not demo");
    };
    assert_eq!(d.keys, Path::new(demo::DEFAULT_KEYS_DIR));
    assert!(!d.serve);
    assert_eq!(d.dir, None);
    let Command::Demo(d) =
        parse(&["demo", "--serve", "--keys", "k", "--listen", "127.0.0.1:9"]).expect("ok")
    else {
        panic!("not demo");
    };
    assert!(d.serve);
    assert_eq!(d.keys, Path::new("k"));
}

#[test]
fn usage_errors_are_one_line() {
    for bad in [
        &["--nope"][..],
        &["issue", "--image"],
        &["frobnicate"],
        &["keygen", "--out"],
        &["qr", "u", "--svg", "a", "--png", "b"],
        &["demo", "--listen", "x"],
    ] {
        let e = parse(bad).expect_err("usage error");
        let line = usage_line(&e);
        assert!(!line.contains('\n'), "{bad:?}: {line:?}");
        assert!(!line.starts_with("error:"), "{line}");
        assert!(line.ends_with("; see --help"), "{line}");
    }
    assert_eq!(
        parse(&["--help"]).expect_err("help").kind(),
        ErrorKind::DisplayHelp
    );
}

#[test]
fn server_args_check_the_key_and_url() {
    let ok = ServerArgs {
        server: "http://127.0.0.1:1/".into(),
        api_key: None,
    };
    assert_eq!(ok.client().expect("ok").base_url(), "http://127.0.0.1:1");
    let bad_key = ServerArgs {
        api_key: Some("sk_nope".into()),
        ..ok.clone()
    };
    assert!(matches!(bad_key.client(), Err(CliError::Usage(_))));
    let bad_url = ServerArgs {
        server: "127.0.0.1:8080".into(),
        ..ok
    };
    assert!(
        bad_url
            .client()
            .is_err_and(|e| e.to_string().contains("not an http"))
    );
}

#[test]
fn token_ids_that_start_with_a_hyphen_are_values_not_flags() {
    // base64url ids start with '-' one time in 64: found by the loopback
    // test, where `--supersedes -E…` was read as an unknown flag.
    let id: loupe_schemas::token::TokenId =
        format!("-{}", "A".repeat(42)).parse().expect("a valid id");
    let id = id.to_string();
    assert!(id.starts_with('-'));
    let Command::Revoke(r) = parse(&["revoke", &id, "--reason", "re-cut"]).expect("revoke") else {
        panic!("not revoke");
    };
    assert_eq!(r.token_id.to_string(), id);
    let Command::Issue(i) =
        parse(&["issue", "--report-number", "R-1", "--supersedes", &id]).expect("issue")
    else {
        panic!("not issue");
    };
    assert_eq!(i.supersedes.map(|s| s.to_string()), Some(id.clone()));
    let Command::Qr(q) = parse(&["qr", &id, "--base-url", "https://lab.example"]).expect("qr")
    else {
        panic!("not qr");
    };
    assert_eq!(q.target, id);
}
