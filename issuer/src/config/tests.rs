use clap::Parser;

use super::*;

/// The flags as the binary's `serve` subcommand would take them.
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn parse(args: &[&str]) -> ServeArgs {
    let mut argv = vec!["loupe-issuer"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).expect("flags parse").serve
}

#[test]
fn defaults() {
    let c = ServeArgs::default()
        .resolve_with(ConfigFile::default())
        .expect("defaults are valid");
    assert_eq!(c.listen, "127.0.0.1:8080".parse().expect("addr"));
    assert_eq!(c.database_url, "sqlite://loupe.db");
    assert_eq!(c.public_base_url, "http://127.0.0.1:8080");
    assert_eq!(c.verify_url, None);
    assert_eq!(c.issuer_origin, "127.0.0.1:8080");
    assert_eq!(c.log_origin, "127.0.0.1:8080/log");
    assert_eq!(c.issuer_key, Path::new("keys/issuer.key.pem"));
    assert_eq!(c.log_key, Path::new("keys/log.key.pem"));
    assert_eq!(c.media_dir, Path::new("media"));
    assert_eq!(c.max_upload_size, 256 * 1024 * 1024);
    assert_eq!(c.max_json_body, 1024 * 1024);
    assert_eq!(c.batch_size, 256);
    assert_eq!(c.batch_delay, Duration::from_millis(10));
    assert_eq!(c.request_timeout, Duration::from_secs(60));
    assert_eq!(c.rate_limit_per_minute, 0, "off by default");
    assert_eq!(c.max_concurrent_requests, 4096);
    assert_eq!(c.connections, loupe_httpd::ConnectionLimits::default());
    let c = ServeArgs::default()
        .resolve_with(
            ConfigFile::parse(
                "max_connections = 100\nmax_connections_per_ip = 10\n\
                 header_read_timeout = \"5s\"\nwrite_timeout = \"250ms\"",
            )
            .expect("parses"),
        )
        .expect("valid");
    assert_eq!(
        (
            c.connections.max_connections,
            c.connections.max_connections_per_ip,
            c.connections.header_read_timeout,
            c.connections.write_timeout
        ),
        (100, 10, Duration::from_secs(5), Duration::from_millis(250))
    );
    let c = ServeArgs::default()
        .resolve_with(
            ConfigFile::parse("rate_limit_per_minute = 600\nmax_concurrent_requests = 64")
                .expect("parses"),
        )
        .expect("valid");
    assert_eq!(
        (c.rate_limit_per_minute, c.max_concurrent_requests),
        (600, 64)
    );
}

const FILE: &str = r#"
# A full config file.
listen = "0.0.0.0:9000"
database_url = "postgres://loupe:s3cret@db.internal:5432/loupe"
public_base_url = "https://lab.example/"
verify_url = "https://verify.example/?from=lab"
issuer_key = "keys/issuer.key.pem"
log_key = "/etc/loupe/log.key.pem"
media_dir = "media"
max_upload_size = "512MiB"
max_json_body = 2097152
batch_size = 64
batch_delay = "5ms"
request_timeout = "2m"
"#;

#[test]
fn file_overrides_defaults_and_derives_origins() {
    let c = ServeArgs::default()
        .resolve_with(ConfigFile::parse(FILE).expect("parses"))
        .expect("valid");
    assert_eq!(c.listen, "0.0.0.0:9000".parse().expect("addr"));
    assert_eq!(
        c.public_base_url, "https://lab.example",
        "trailing / dropped"
    );
    assert_eq!(
        c.verify_url.as_deref(),
        Some("https://verify.example/?from=lab")
    );
    assert_eq!(c.issuer_origin, "lab.example");
    assert_eq!(c.log_origin, "lab.example/log");
    assert_eq!(c.max_upload_size, 512 << 20);
    assert_eq!(c.max_json_body, 2 << 20);
    assert_eq!(c.batch_size, 64);
    assert_eq!(c.batch_delay, Duration::from_millis(5));
    assert_eq!(c.request_timeout, Duration::from_secs(120));
    let t: TokenId = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        .parse()
        .expect("id");
    assert_eq!(
        c.token_url(&t),
        "https://lab.example/t/47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
    );
}

#[test]
fn flags_override_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("loupe.toml");
    std::fs::write(&path, FILE).expect("write");
    let c = parse(&[
        "--config",
        path.to_str().expect("utf-8"),
        "--batch-size",
        "9",
        "--public-base-url",
        "https://other.example",
        "--max-upload-size",
        "1GB",
        "--media-dir",
        "/srv/media",
    ])
    .resolve()
    .expect("valid");
    assert_eq!(c.batch_size, 9);
    assert_eq!(c.public_base_url, "https://other.example");
    assert_eq!(c.issuer_origin, "other.example");
    assert_eq!(c.max_upload_size, 1_000_000_000);
    assert_eq!(c.media_dir, Path::new("/srv/media"), "flag paths as given");
    // From the file, relative paths resolved against its directory.
    assert_eq!(c.batch_delay, Duration::from_millis(5));
    assert_eq!(c.issuer_key, dir.path().join("keys/issuer.key.pem"));
    assert_eq!(c.log_key, Path::new("/etc/loupe/log.key.pem"));
}

/// Runs in a child process started by `environment_sits_between_flags_and_file`
/// with LOUPE_* variables set; does nothing otherwise.
#[test]
fn env_child() {
    if std::env::var_os("LOUPE_TEST_ENV_CHILD").is_none() {
        return;
    }
    // LOUPE_CONFIG names the file; LOUPE_BATCH_SIZE=7 and
    // LOUPE_MEDIA_DIR=/from/env are set; the flag sets batch size 9.
    let c = parse(&["--batch-size", "9"]).resolve().expect("valid");
    assert_eq!(c.batch_size, 9, "flag beats env");
    assert_eq!(c.media_dir, Path::new("/from/env"), "env beats file");
    assert_eq!(
        c.listen,
        "127.0.0.1:9999".parse().expect("addr"),
        "env beats file"
    );
    assert_eq!(
        c.batch_delay,
        Duration::from_millis(5),
        "file beats default"
    );
    assert_eq!(c.request_timeout, Duration::from_secs(120), "file");
    assert_eq!(c.issuer_origin, "env.example", "env");
    assert_eq!(c.max_json_body, 1 << 20, "default");
    let err = parse(&[]).resolve().expect("valid").batch_size;
    assert_eq!(err, 7, "env beats file");
    println!("env precedence ok");
}

#[test]
fn environment_sits_between_flags_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("loupe.toml");
    std::fs::write(
        &path,
        "batch_size = 3\nmedia_dir = \"file-media\"\nlisten = \"127.0.0.1:7777\"\n\
         batch_delay = \"5ms\"\nrequest_timeout = \"2m\"\n",
    )
    .expect("write");
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LOUPE_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args([
            "--exact",
            "config::tests::env_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LOUPE_TEST_ENV_CHILD", "1")
        .env("LOUPE_CONFIG", &path)
        .env("LOUPE_BATCH_SIZE", "7")
        .env("LOUPE_MEDIA_DIR", "/from/env")
        .env("LOUPE_LISTEN", "127.0.0.1:9999")
        .env("LOUPE_ISSUER_ORIGIN", "env.example")
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("env precedence ok"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn file_errors_are_one_line_with_position() {
    for (text, want) in [
        ("batch_size = 3\nbatch_sise = 4\n", "line 2"),
        ("listen = \"nowhere\"\n", "line 1"),
        ("max_upload_size = \"12 parsecs\"\n", "unknown size unit"),
        ("batch_delay = 10\n", "duration"),
        ("batch_size = -1\n", "line 1"),
        ("[server]\nlisten = \"127.0.0.1:1\"\n", "line 1"),
        ("listen = \n", "line 1"),
    ] {
        let e = ConfigFile::parse(text).expect_err(text);
        assert!(e.contains(want), "{text:?}: {e}");
        assert!(!e.contains('\n'), "{text:?}: one line: {e}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.toml");
    let e = parse(&["--config", missing.to_str().expect("utf-8")])
        .resolve()
        .expect_err("missing file");
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("nope.toml"), "{e}");
}

#[test]
fn invalid_values_name_the_setting() {
    let rows: &[(&str, &str, &str)] = &[
        ("database_url", "database_url = \"mysql://x/y\"", "sqlite"),
        ("database_url", "database_url = \"sqlite:\"", "sqlite"),
        (
            "public_base_url",
            "public_base_url = \"lab.example\"",
            "http",
        ),
        (
            "public_base_url",
            "public_base_url = \"ftp://lab.example\"",
            "http",
        ),
        (
            "public_base_url",
            "public_base_url = \"https://\"",
            "no host",
        ),
        (
            "public_base_url",
            "public_base_url = \"https://a@lab.example\"",
            "user info",
        ),
        (
            "public_base_url",
            "public_base_url = \"https://lab.example/?x=1\"",
            "query",
        ),
        (
            "public_base_url",
            "public_base_url = \"https://lab.example/#x\"",
            "fragment",
        ),
        (
            "public_base_url",
            "public_base_url = \"https://lab example\"",
            "spaces",
        ),
        ("public_base_url", "listen = \"0.0.0.0:8080\"", "required"),
        ("verify_url", "verify_url = \"javascript:alert(1)\"", "http"),
        (
            "issuer_origin",
            "issuer_origin = \"https://lab.example\"",
            "URL",
        ),
        ("issuer_origin", "issuer_origin = \"\"", "1 to"),
        (
            "issuer_origin",
            "issuer_origin = \"lab example\"",
            "printable",
        ),
        ("log_origin", "log_origin = \"lab.example+log\"", "'+'"),
        (
            "log_key",
            "issuer_key = \"k.pem\"\nlog_key = \"k.pem\"",
            "another file",
        ),
        ("media_dir", "media_dir = \"\"", "empty"),
        ("max_upload_size", "max_upload_size = 0", "greater than 0"),
        ("max_json_body", "max_json_body = \"100B\"", "between"),
        ("max_json_body", "max_json_body = \"1GiB\"", "between"),
        ("batch_size", "batch_size = 0", "between"),
        ("batch_size", "batch_size = 1000000", "between"),
        ("batch_delay", "batch_delay = \"11s\"", "at most"),
        ("request_timeout", "request_timeout = \"500ms\"", "between"),
        (
            "max_concurrent_requests",
            "max_concurrent_requests = 0",
            "between",
        ),
        (
            "request_timeout",
            "request_timeout = \"2s\"\nbatch_delay = \"2s\"",
            "longer",
        ),
        ("max_connections", "max_connections = 0", "between"),
        (
            "max_connections_per_ip",
            "max_connections = 10\nmax_connections_per_ip = 11",
            "at most",
        ),
        (
            "header_read_timeout",
            "header_read_timeout = \"10ms\"",
            "between",
        ),
        ("write_timeout", "write_timeout = \"2h\"", "between"),
    ];
    for (key, text, want) in rows {
        let file = ConfigFile::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let e = ServeArgs::default().resolve_with(file).expect_err(text);
        let shown = e.to_string();
        assert!(
            matches!(&e, ConfigError::Invalid { key: k, .. } if k == key),
            "{text:?}: {shown}"
        );
        assert!(shown.contains(want), "{text:?}: {shown}");
        assert!(!shown.contains('\n'));
        let flag = format!("--{}", key.replace('_', "-"));
        assert!(shown.contains(&flag) && shown.contains(&format!("LOUPE_{}", key.to_uppercase())));
    }
}

#[test]
fn debug_and_errors_hide_the_database_password() {
    let c = ServeArgs::default()
        .resolve_with(ConfigFile::parse(FILE).expect("parses"))
        .expect("valid");
    let shown = format!("{c:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("postgres://loupe:***@db.internal:5432/loupe"));
    let e = ServeArgs {
        database_url: Some("mysql://root:hunter2@db/x".into()),
        ..ServeArgs::default()
    }
    .resolve_with(ConfigFile::default())
    .expect_err("mysql");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert_eq!(redact_password("sqlite://loupe.db"), "sqlite://loupe.db");
    assert_eq!(redact_password("postgres://u@h/d"), "postgres://u@h/d");
    assert_eq!(
        redact_password("postgres://u:p@h/d?x=@"),
        "postgres://u:***@h/d?x=@"
    );
}

#[test]
fn sizes_and_durations_parse() {
    for (s, want) in [
        ("0", Some(0)),
        ("1048576", Some(1 << 20)),
        ("1MiB", Some(1 << 20)),
        ("1 MiB", Some(1 << 20)),
        ("1mib", Some(1 << 20)),
        ("512kB", Some(512_000)),
        ("2GiB", Some(2 << 30)),
        ("10B", Some(10)),
        ("", None),
        ("MiB", None),
        ("1.5MiB", None),
        ("-1", None),
        ("1  MiB", None),
        ("99999999999999999999", None),
        ("18446744073709551615GiB", None),
    ] {
        assert_eq!(s.parse::<ByteSize>().ok().map(|b| b.0), want, "{s:?}");
    }
    assert_eq!(ByteSize(256 << 20).to_string(), "256MiB");
    assert_eq!(ByteSize(1000).to_string(), "1000B");
    for (s, want) in [
        ("0", Some(Duration::ZERO)),
        ("250ms", Some(Duration::from_millis(250))),
        ("10s", Some(Duration::from_secs(10))),
        ("2m", Some(Duration::from_secs(120))),
        ("1h", Some(Duration::from_secs(3600))),
        ("10", None),
        ("10S", None),
        ("1.5s", None),
        ("s", None),
        ("99999999999999999999h", None),
        ("18446744073709551615h", None),
    ] {
        assert_eq!(s.parse::<HumanDuration>().ok().map(|d| d.0), want, "{s:?}");
    }
    assert_eq!(
        HumanDuration(Duration::from_millis(1500)).to_string(),
        "1500ms"
    );
}

#[test]
fn clap_flags_have_env_names() {
    use clap::CommandFactory as _;
    let cmd = Cli::command();
    for arg in cmd.get_arguments() {
        let long = arg.get_long().expect("long flag");
        if long == "help" {
            continue;
        }
        let env = arg
            .get_env()
            .expect("every flag has an env")
            .to_string_lossy();
        assert_eq!(
            env,
            format!("LOUPE_{}", long.replace('-', "_").to_uppercase())
        );
    }
}

#[test]
fn key_history_and_expect_checkpoint_resolve_relative_to_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("loupe.toml");
    std::fs::write(
        &path,
        "issuer_key_not_before = 2026-06-01T00:00:00Z\n\
         previous_log_keys = [\"old/log.key.pem\"]\n\
         expect_checkpoint = \"last.checkpoint\"\n\
         [[retired_issuer_key]]\n\
         public_key = \"old/issuer.pub.pem\"\n\
         not_after = 2026-06-01T00:00:00Z\n\
         compromised_at = 2026-05-30T00:00:00Z\n\
         logged_before = 12\n",
    )
    .expect("write");
    let c = ServeArgs::default()
        .resolve_with(ConfigFile::load(&path).expect("loads"))
        .expect("resolves");
    let h = &c.key_history;
    assert_eq!(h.issuer_key_not_before, Some(1_780_272_000));
    assert_eq!(
        h.previous_log_keys,
        vec![dir.path().join("old/log.key.pem")]
    );
    assert_eq!(
        c.expect_checkpoint,
        Some(dir.path().join("last.checkpoint"))
    );
    let r = &h.retired_issuer_keys[0];
    assert_eq!(r.public_key, dir.path().join("old/issuer.pub.pem"));
    assert_eq!(
        (r.not_after, r.compromise),
        (1_780_272_000, Some((1_780_099_200, 12)))
    );
    // A flag overrides the file's expected checkpoint.
    let c = parse(&["--expect-checkpoint", "/tmp/x"])
        .resolve_with(ConfigFile::load(&path).expect("loads"))
        .expect("resolves");
    assert_eq!(c.expect_checkpoint, Some(PathBuf::from("/tmp/x")));
}

#[test]
fn bad_key_history_is_refused_naming_the_setting() {
    let rows = [
        (
            "retired_issuer_key",
            "[[retired_issuer_key]]\npublic_key = \"a.pem\"\nnot_after = 2026-06-01T00:00:00Z\ncompromised_at = 2026-05-01T00:00:00Z\n",
            "logged_before",
        ),
        (
            "retired_issuer_key",
            "[[retired_issuer_key]]\npublic_key = \"a.pem\"\nnot_after = 2026-06-01\n",
            "full date-time",
        ),
        (
            "previous_log_keys",
            "log_key = \"k/log.key.pem\"\nprevious_log_keys = [\"k/log.key.pem\"]\n",
            "current log_key",
        ),
        (
            "issuer_key_not_before",
            "issuer_key_not_before = 1960-01-01T00:00:00Z\n",
            "before 1970",
        ),
    ];
    for (key, text, want) in rows {
        let file = ConfigFile::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let e = ServeArgs::default().resolve_with(file).expect_err(text);
        let shown = e.to_string();
        assert!(
            matches!(&e, ConfigError::Invalid { key: k, .. } if *k == key),
            "{text:?}: {shown}"
        );
        assert!(shown.contains(want), "{text:?}: {shown}");
    }
}
