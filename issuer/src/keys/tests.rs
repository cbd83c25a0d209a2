use ed25519_dalek::Signer as _;

use super::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example")
}

#[test]
fn example_keys_load_and_agree() {
    let dir = examples();
    let issuer = load_signing_key(&dir.join(ISSUER_KEY_FILE)).expect("issuer key");
    let issuer_pub = load_verifying_key(&dir.join(ISSUER_PUB_FILE)).expect("issuer pub");
    assert_eq!(issuer.verifying_key(), issuer_pub);
    let log = load_signing_key(&dir.join(LOG_KEY_FILE)).expect("log key");
    let log_pub = load_verifying_key(&dir.join(LOG_PUB_FILE)).expect("log pub");
    assert_eq!(log.verifying_key(), log_pub);
    let signer = load_log_signer(&dir.join(LOG_KEY_FILE), "lab.example/log").expect("signer");
    let vkey = load_note_verifier(&dir.join(LOG_VKEY_FILE)).expect("vkey");
    assert_eq!(signer.verifier(), vkey);
    assert_eq!(
        fs::read_to_string(dir.join(LOG_VKEY_FILE))
            .expect("read")
            .trim_end(),
        signer.verifier().to_vkey()
    );
    // The root CA key is another Ed25519 key and loads too.
    load_signing_key(&dir.join("root-ca.key.pem")).expect("root key");
}

#[test]
fn keygen_round_trips() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("keys");
    let out = keygen(&dir, "lab.example", "lab.example/log").expect("keygen");
    assert_eq!(out.files.len(), 5);
    for f in &out.files {
        assert!(f.starts_with(&dir), "{}", f.display());
    }
    let issuer = load_signing_key(&dir.join(ISSUER_KEY_FILE)).expect("issuer key");
    assert_eq!(
        issuer.verifying_key(),
        load_verifying_key(&dir.join(ISSUER_PUB_FILE)).expect("issuer pub")
    );
    assert_eq!(out.issuer_kid, Kid::of(&issuer.verifying_key()));
    let log = load_log_signer(&dir.join(LOG_KEY_FILE), "lab.example/log").expect("log");
    let vkey = load_note_verifier(&dir.join(LOG_VKEY_FILE)).expect("vkey");
    assert_eq!(log.verifier(), vkey);
    assert_eq!(vkey.to_vkey(), out.log_vkey);
    assert_eq!(vkey.name(), "lab.example/log");
    assert_eq!(
        *vkey.verifying_key(),
        load_verifying_key(&dir.join(LOG_PUB_FILE)).expect("log pub")
    );
    assert_ne!(issuer.verifying_key(), *vkey.verifying_key(), "two keys");
    // The keys sign and verify.
    let sig = issuer.sign(b"loupe");
    issuer
        .verifying_key()
        .verify_strict(b"loupe", &sig)
        .expect("verifies");
    let summary = out.summary();
    assert!(summary.contains(&out.log_vkey) && summary.contains("lab.example"));
    assert!(!summary.contains("PRIVATE"));
}

#[cfg(unix)]
#[test]
fn keygen_sets_modes() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("fresh");
    keygen(&dir, "lab.example", "lab.example/log").expect("keygen");
    let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(ISSUER_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir.join(LOG_KEY_FILE)), 0o600);
    // Public files: 0644 less the umask.
    assert_eq!(mode(&dir.join(ISSUER_PUB_FILE)) & 0o600, 0o600);
    assert_eq!(mode(&dir.join(LOG_VKEY_FILE)) & 0o077 & !0o044, 0);
}

#[test]
fn keygen_refuses_to_overwrite_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    keygen(dir, "lab.example", "lab.example/log").expect("first");
    let before: Vec<Vec<u8>> = [ISSUER_KEY_FILE, LOG_KEY_FILE]
        .iter()
        .map(|f| fs::read(dir.join(f)).expect("read"))
        .collect();
    let e = keygen(dir, "lab.example", "lab.example/log").expect_err("second");
    assert!(
        matches!(&e, KeyFileError::Exists { path } if path.ends_with(ISSUER_KEY_FILE)),
        "{e}"
    );
    assert!(e.to_string().contains(ISSUER_KEY_FILE));
    let after: Vec<Vec<u8>> = [ISSUER_KEY_FILE, LOG_KEY_FILE]
        .iter()
        .map(|f| fs::read(dir.join(f)).expect("read"))
        .collect();
    assert_eq!(before, after);

    // Only the last file exists: nothing else gets written.
    let other = tempfile::tempdir().expect("tempdir");
    fs::write(other.path().join(LOG_VKEY_FILE), "mine\n").expect("write");
    let e = keygen(other.path(), "lab.example", "lab.example/log").expect_err("exists");
    assert!(matches!(&e, KeyFileError::Exists { path } if path.ends_with(LOG_VKEY_FILE)));
    let names: Vec<_> = fs::read_dir(other.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, [LOG_VKEY_FILE]);
    assert_eq!(
        fs::read_to_string(other.path().join(LOG_VKEY_FILE)).expect("read"),
        "mine\n"
    );
}

#[test]
fn keygen_checks_origins() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (iss, log) in [
        ("", "lab.example/log"),
        ("https://lab.example", "lab.example/log"),
        ("lab.example", "lab.example+log"),
        ("lab.example", "lab example/log"),
    ] {
        let e = keygen(tmp.path(), iss, log).expect_err("invalid origin");
        assert!(
            matches!(e, KeyFileError::Origin { .. }),
            "{iss:?} {log:?}: {e}"
        );
    }
    assert_eq!(fs::read_dir(tmp.path()).expect("list").count(), 0);
}

#[test]
fn bad_key_files_name_the_file_and_never_show_key_material() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ex = examples();
    let private_pem = fs::read_to_string(ex.join(ISSUER_KEY_FILE)).expect("read");
    let private_b64 = private_pem.lines().nth(1).expect("base64 line").to_owned();
    let public_pem = fs::read_to_string(ex.join(ISSUER_PUB_FILE)).expect("read");
    let cert_pem = fs::read_to_string(ex.join("lab.cert.pem")).expect("read");
    let truncated = private_pem.replacen(&private_b64, &private_b64[..20], 1);
    let rows: Vec<(&str, Vec<u8>, bool, &str)> =
        vec![
        ("public-as-private", public_pem.clone().into_bytes(), true, "public key"),
        ("private-as-public", private_pem.clone().into_bytes(), false, "private key"),
        ("certificate", cert_pem.into_bytes(), true, "certificate"),
        ("empty", vec![], true, "no PEM block"),
        ("garbage", b"hello".to_vec(), true, "no PEM block"),
        ("der", vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0xff, 0xfe], true, "not UTF-8"),
        ("truncated", truncated.into_bytes(), true, ""),
        (
            "openssh",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n"
                .to_vec(),
            true,
            "OpenSSH",
        ),
        (
            "encrypted",
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGb\n-----END ENCRYPTED PRIVATE KEY-----\n"
                .to_vec(),
            true,
            "encrypted",
        ),
        ("huge", vec![b'A'; MAX_KEY_FILE_SIZE as usize + 1], true, "larger than"),
    ];
    for (name, bytes, private, want) in rows {
        let path = tmp.path().join(format!("{name}.pem"));
        fs::write(&path, &bytes).expect("write");
        let e = if private {
            load_signing_key(&path).map(|_| ()).expect_err(name)
        } else {
            load_verifying_key(&path).map(|_| ()).expect_err(name)
        };
        let shown = e.to_string();
        assert!(
            shown.contains(&path.display().to_string()),
            "{name}: {shown}"
        );
        assert!(shown.contains(want), "{name}: {shown}");
        assert!(
            !shown.contains(&private_b64[..16]),
            "{name} leaks key material: {shown}"
        );
        assert!(
            !format!("{e:?}").contains(&private_b64[..16]),
            "{name}: Debug leaks"
        );
        assert!(!shown.contains('\n'), "{name}: one line: {shown}");
    }
    let missing = tmp.path().join("missing.pem");
    let e = load_signing_key(&missing).expect_err("missing");
    assert!(matches!(e, KeyFileError::Read { .. }));
    assert!(e.to_string().contains("missing.pem"));
}
