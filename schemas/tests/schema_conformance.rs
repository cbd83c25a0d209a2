//! Conformance of what `loupe-schemas` makes against the normative schemas:
//! `schemas/cddl/token.cddl` (CBOR, checked with the `cddl` crate) and
//! `schemas/json/*.schema.json` (JSON Schema 2020-12, checked with
//! `jsonschema`, offline: every `$ref` resolves from a local registry).
//!
//! - Positive rows: tokens and revocations signed by the crate, in every
//!   shape it can make, validate against their CDDL rules; their JSON views
//!   validate against their JSON schemas.
//! - Negative rows: hand-made statements (correctly signed, deterministically
//!   encoded, so that only the rule under test can reject them) and JSON
//!   views that both the schema and the crate's parser must reject.
//! - Edge cases, pinned: rows where the schema and the crate once disagreed
//!   (now settled: both give the same answer) and the few the schema
//!   language cannot express (byte-counted limits, one image per role). The
//!   test fails when either side changes its answer.
//!
//! The `cddl` crate validates against the first rule of a document, so each
//! check prepends one line, `conformance-root = <rule>`, to the unchanged
//! text of `token.cddl`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cddl::validator::Validator as _;
use ciborium::Value;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use ed25519_dalek::{Signer as _, SigningKey};
use loupe_schemas::bundle::Receipt;
use loupe_schemas::cbor;
use loupe_schemas::token::{
    Algorithm, Cti, FileDigest, ImageDigest, ImageRole, Kid, MediaRole as _, Provenance,
    REVOCATION_CONTENT_TYPE, RevocationBuilder, Sha256Digest, SignedRevocation, Statement, Stone,
    TOKEN_CONTENT_TYPE, Token, TokenBuilder, TokenId, VideoDigest, VideoRole, sha256,
    sign1_sig_structure,
};
use serde_json::{Value as Json, json};

// ------------------------------------------------------------------ schemas

const TOKEN_CDDL: &str = include_str!("../cddl/token.cddl");

const SCHEMA_BASE: &str = "https://loupe.example/schemas/";

const JSON_SCHEMAS: [(&str, &str); 4] = [
    (
        "provenance.schema.json",
        include_str!("../json/provenance.schema.json"),
    ),
    (
        "token.schema.json",
        include_str!("../json/token.schema.json"),
    ),
    (
        "issuance.schema.json",
        include_str!("../json/issuance.schema.json"),
    ),
    (
        "problem.schema.json",
        include_str!("../json/problem.schema.json"),
    ),
];

thread_local! {
    /// `token.cddl` parsed once per root rule (parsing takes ~70 ms in a
    /// debug build; validating, well under a millisecond).
    static PARSED_CDDL: RefCell<HashMap<String, &'static cddl::ast::CDDL<'static>>> =
        RefCell::new(HashMap::new());
}

/// Validates `cbor` against rule `rule` of `token.cddl`; `loupe-root` is
/// the document's own first rule.
///
/// This is what `cddl::validate_cbor_from_slice(doc, cbor, None)` does,
/// with the parsed document kept.
fn cddl(rule: &str, cbor: &[u8]) -> Result<(), String> {
    let doc = PARSED_CDDL.with(|m| {
        *m.borrow_mut().entry(rule.to_owned()).or_insert_with(|| {
            let text: &'static str = if rule == "loupe-root" {
                TOKEN_CDDL
            } else {
                // Leaked once per rule, per test thread: a few kilobytes.
                Box::leak(format!("conformance-root = {rule}\n{TOKEN_CDDL}").into_boxed_str())
            };
            let parsed = cddl::cddl_from_str(text, true)
                .unwrap_or_else(|e| panic!("token.cddl with root {rule}: {e}"));
            Box::leak(Box::new(parsed))
        })
    });
    let value =
        cddl::validator::cbor_value::decode_cbor(cbor).map_err(|e| format!("not CBOR: {e}"))?;
    let mut validator = cddl::validator::cbor::CBORValidator::new(doc, value, None);
    validator.validate().map_err(|e| e.to_string())
}

/// Refuses every retrieval: all schemas must come from the registry.
struct NoNetwork;

impl jsonschema::Retrieve for NoNetwork {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Json, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("offline: refusing to fetch {}", uri.as_str()).into())
    }
}

static REGISTRY: LazyLock<jsonschema::Registry<'static>> = LazyLock::new(|| {
    let mut builder = jsonschema::Registry::new().retriever(NoNetwork);
    for (name, text) in JSON_SCHEMAS {
        let schema: Json = serde_json::from_str(text).unwrap();
        assert_eq!(
            schema["$id"],
            format!("{SCHEMA_BASE}{name}"),
            "$id of {name}"
        );
        builder = builder.add(format!("{SCHEMA_BASE}{name}"), schema).unwrap();
    }
    builder.prepare().unwrap()
});

/// A validator for the schema `name` (e.g. `"token.schema.json"`), with its
/// references resolved from [`REGISTRY`] and format assertions on.
fn json_validator(name: &str) -> jsonschema::Validator {
    let schema = json!({ "$ref": format!("{SCHEMA_BASE}{name}") });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_retriever(NoNetwork)
        .with_registry(&REGISTRY)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema {name} does not build: {e}"))
}

static PROVENANCE_SCHEMA: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| json_validator("provenance.schema.json"));
static TOKEN_SCHEMA: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| json_validator("token.schema.json"));

fn json_errors(v: &jsonschema::Validator, instance: &Json) -> Result<(), String> {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

// ------------------------------------------------------------------ material

fn test_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The example lab key, whose certificate chain is in `keys-example/`.
fn lab_key() -> SigningKey {
    SigningKey::from_pkcs8_pem(include_str!("../../keys-example/issuer.key.pem")).unwrap()
}

fn log_key() -> SigningKey {
    SigningKey::from_pkcs8_pem(include_str!("../../keys-example/log.key.pem")).unwrap()
}

const LAB_CERT: &[u8] = include_bytes!("../../keys-example/lab.cert.der");
const ROOT_CERT: &[u8] = include_bytes!("../../keys-example/root-ca.cert.der");

fn image(role: ImageRole) -> ImageDigest {
    ImageDigest {
        role,
        sha256: Sha256Digest::of(role.as_str().as_bytes()),
        media_type: "image/jpeg".into(),
        size: 2_000_000,
    }
}

fn video() -> VideoDigest {
    VideoDigest {
        role: VideoRole::LightPlay,
        sha256: Sha256Digest::of(b"light-play"),
        media_type: "video/mp4".into(),
        size: 30_000_000,
    }
}

fn provenance() -> Provenance {
    Provenance {
        report: FileDigest {
            sha256: Sha256Digest::of(b"%PDF-1.7 report"),
            media_type: "application/pdf".into(),
            size: 123_456,
        },
        images: vec![image(ImageRole::FaceUp), image(ImageRole::Swatch)],
        videos: vec![],
        stone: Stone {
            variety: "Ruby".into(),
            species: "Corundum".into(),
            weight_mct: 1520,
            colour: "pigeon's blood".into(),
            shape: "oval".into(),
            cut: "mixed".into(),
            clarity: "VS".into(),
            dimensions_um: [7100, 5600, 3400],
            treatment: "none".into(),
            origin: None,
        },
        supersedes: None,
    }
}

fn builder(p: Provenance) -> TokenBuilder {
    TokenBuilder::new("lab.example", "R-2024-0001", p)
        .iat(1_700_000_000)
        .cti(Cti([0x11; 16]))
}

/// An RFC 9942 receipt as `token.cddl` describes it, signed by the example
/// log key, for a tree of one leaf (`logged`), whose root is the leaf hash.
fn receipt_for(logged: &[u8]) -> Vec<u8> {
    let log = log_key();
    let protected = cbor::encode(&Value::Map(vec![
        (int(1), int(-8)),
        (
            int(4),
            Value::Bytes(Kid::of(&log.verifying_key()).0.to_vec()),
        ),
        (int(15), Value::Map(vec![(int(1), text("lab.example/log"))])),
        (int(395), int(1)),
    ]));
    let proof = cbor::encode(&Value::Array(vec![int(1), int(0), Value::Array(vec![])]));
    let unprotected = Value::Map(vec![(
        int(396),
        Value::Map(vec![(int(-1), Value::Array(vec![Value::Bytes(proof)]))]),
    )]);
    let mut leaf = vec![0u8];
    leaf.extend_from_slice(logged);
    let root = sha256(&leaf);
    let signature = log.sign(&sign1_sig_structure(&protected, &[], &root));
    cbor::encode(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            unprotected,
            Value::Null,
            Value::Bytes(signature.to_bytes().to_vec()),
        ])),
    ))
}

/// One signed token of each shape the crate can make: (row name, bytes as
/// handed out, parsed token).
fn token_rows() -> Vec<(&'static str, Vec<u8>, Token)> {
    let k = test_key(1);
    let all_images = ImageRole::ALL.iter().map(|r| image(*r)).collect();
    let plain = builder(provenance()).sign(&k).unwrap();
    let mut rows: Vec<(&'static str, Token)> =
        vec![("minimal, no origin, no videos", plain.clone())];
    let mut p = provenance();
    p.stone.origin = Some("Myanmar (Burma)".into());
    rows.push(("with origin", builder(p).sign(&k).unwrap()));
    let mut p = provenance();
    p.supersedes = Some(plain.id());
    rows.push(("supersedes", builder(p).sign(&k).unwrap()));
    let mut p = provenance();
    p.videos = vec![video()];
    rows.push(("with a video", builder(p).sign(&k).unwrap()));
    let mut p = provenance();
    p.images = all_images;
    p.videos = vec![video()];
    p.stone.origin = Some("Sri Lanka".into());
    rows.push((
        "full 6-shot set + video + origin",
        builder(p).sign(&k).unwrap(),
    ));
    let mut p = provenance();
    p.images = vec![];
    rows.push(("no images", builder(p).sign(&k).unwrap()));
    let mut p = provenance();
    p.report.size = u64::MAX;
    p.stone.weight_mct = u64::MAX;
    p.stone.dimensions_um = [u64::MAX, 1, u64::MAX];
    p.stone.colour = "rouge sang-de-pigeon, très légèrement violacé".into();
    rows.push((
        "u64::MAX numbers, non-ASCII text",
        builder(p).sign(&k).unwrap(),
    ));
    rows.push((
        "alg -19",
        builder(provenance())
            .alg(Algorithm::Ed25519)
            .sign(&k)
            .unwrap(),
    ));
    rows.push((
        "x5chain: one certificate (bstr)",
        builder(provenance())
            .x5chain(vec![LAB_CERT.to_vec()])
            .sign(&lab_key())
            .unwrap(),
    ));
    rows.push((
        "x5chain: leaf + root (array), alg -19",
        builder(provenance())
            .alg(Algorithm::Ed25519)
            .x5chain(vec![LAB_CERT.to_vec(), ROOT_CERT.to_vec()])
            .sign(&lab_key())
            .unwrap(),
    ));
    rows.push((
        "random cti, iat now",
        TokenBuilder::new("lab.example", "R-2024-0002", provenance())
            .sign(&k)
            .unwrap(),
    ));
    let mut out: Vec<(&'static str, Vec<u8>, Token)> = rows
        .into_iter()
        .map(|(name, t)| (name, t.logged_bytes().to_vec(), t))
        .collect();
    let one = plain.with_receipts(vec![receipt_for(plain.logged_bytes())]);
    out.push((
        "one receipt attached",
        one.clone(),
        Token::parse(&one).unwrap(),
    ));
    let r = receipt_for(plain.logged_bytes());
    let two = plain.with_receipts(vec![r.clone(), r]);
    out.push((
        "two receipts attached",
        two.clone(),
        Token::parse(&two).unwrap(),
    ));
    out
}

fn revocation_rows() -> Vec<(&'static str, Vec<u8>, SignedRevocation)> {
    let k = test_key(1);
    let target = builder(provenance()).sign(&k).unwrap().id();
    let base = || {
        RevocationBuilder::new("lab.example", target, "report withdrawn by the lab")
            .iat(1_700_000_100)
            .cti(Cti([0x22; 16]))
    };
    let plain = base().sign(&k).unwrap();
    let rows = vec![
        ("plain", plain.clone()),
        ("alg -19", base().alg(Algorithm::Ed25519).sign(&k).unwrap()),
        (
            "x5chain leaf + root",
            base()
                .x5chain(vec![LAB_CERT.to_vec(), ROOT_CERT.to_vec()])
                .sign(&lab_key())
                .unwrap(),
        ),
        (
            "random cti, iat now",
            RevocationBuilder::new("lab.example", target, "re-cut")
                .sign(&k)
                .unwrap(),
        ),
    ];
    let mut out: Vec<_> = rows
        .into_iter()
        .map(|(name, r)| (name, r.logged_bytes().to_vec(), r))
        .collect();
    let with = plain.with_receipts(vec![receipt_for(plain.logged_bytes())]);
    out.push((
        "receipt attached",
        with.clone(),
        SignedRevocation::parse(&with).unwrap(),
    ));
    out
}

/// The decoded JSON view of a token, assembled per `token.schema.json`.
fn token_view(t: &Token) -> Json {
    let mut view = json!({
        "id": t.id().to_string(),
        "alg": t.alg().cose_value(),
        "kid": t.kid().to_string(),
        "claims": serde_json::to_value(t.claims()).unwrap(),
        "provenance": serde_json::to_value(t.provenance()).unwrap(),
    });
    if let Some(chain) = t.x5chain() {
        view["x5chain"] = chain.iter().map(|c| STANDARD.encode(c)).collect();
    }
    view
}

/// Runs every row, then fails once, naming each failing row.
fn report(what: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{what}: {} row(s) failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

// ------------------------------------------------------------------ CBOR helpers

fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// The parts of a COSE_Sign1 being assembled by hand.
#[derive(Clone)]
struct Parts {
    tagged: bool,
    protected: Value,
    unprotected: Value,
    payload: Value,
    /// `None`: sign correctly with `key`.
    signature: Option<Vec<u8>>,
    key: SigningKey,
}

impl Parts {
    /// The parts of a statement the crate made (or of a receipt).
    fn of(logged: &[u8], key: SigningKey) -> Self {
        let Value::Tag(18, inner) = cbor::decode(logged).unwrap() else {
            panic!("not tagged 18")
        };
        let Value::Array(items) = *inner else {
            panic!("not an array")
        };
        let [Value::Bytes(protected), unprotected, payload, _] = &items[..] else {
            panic!("not a COSE_Sign1")
        };
        Self {
            tagged: true,
            protected: cbor::decode(protected).unwrap(),
            unprotected: unprotected.clone(),
            payload: match payload {
                Value::Bytes(p) => cbor::decode(p).unwrap(),
                other => other.clone(), // a receipt's detached (nil) payload
            },
            signature: None,
            key,
        }
    }

    fn payload_bytes(&self) -> Vec<u8> {
        cbor::encode(&self.payload)
    }

    /// Deterministically encoded and correctly signed (unless a signature
    /// was forced).
    fn encode(&self) -> Vec<u8> {
        let protected = cbor::encode(&self.protected);
        let payload = self.payload_bytes();
        let signature = self.signature.clone().unwrap_or_else(|| {
            self.key
                .sign(&sign1_sig_structure(&protected, &[], &payload))
                .to_bytes()
                .to_vec()
        });
        let array = Value::Array(vec![
            Value::Bytes(protected),
            self.unprotected.clone(),
            Value::Bytes(payload),
            Value::Bytes(signature),
        ]);
        if self.tagged {
            cbor::encode(&Value::Tag(18, Box::new(array)))
        } else {
            cbor::encode(&array)
        }
    }
}

/// The entries of a CBOR map.
fn entries(v: &mut Value) -> &mut Vec<(Value, Value)> {
    match v {
        Value::Map(m) => m,
        other => panic!("not a map: {other:?}"),
    }
}

/// The value at `key` in a CBOR map.
fn at<'a>(v: &'a mut Value, key: &Value) -> &'a mut Value {
    entries(v)
        .iter_mut()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no key {key:?}"))
}

/// Sets `key` in a CBOR map (replacing or adding).
fn set(v: &mut Value, key: Value, value: Value) {
    let m = entries(v);
    match m.iter_mut().find(|(k, _)| *k == key) {
        Some((_, old)) => *old = value,
        None => m.push((key, value)),
    }
}

fn remove(v: &mut Value, key: &Value) {
    let m = entries(v);
    let before = m.len();
    m.retain(|(k, _)| k != key);
    assert_eq!(m.len(), before - 1, "no key {key:?}");
}

fn first_item(v: &mut Value) -> &mut Value {
    match v {
        Value::Array(a) => &mut a[0],
        other => panic!("not an array: {other:?}"),
    }
}

// ------------------------------------------------------------------ positive

#[test]
fn the_cddl_document_parses_and_its_root_takes_every_statement() {
    cddl::cddl_from_str(TOKEN_CDDL, true).unwrap();
    let mut failures = Vec::new();
    for (name, bytes, _) in token_rows() {
        if let Err(e) = cddl::validate_cbor_from_slice(TOKEN_CDDL, &bytes, None) {
            failures.push(format!("token {name}: loupe-root: {e}"));
        }
    }
    for (name, bytes, _) in revocation_rows() {
        if let Err(e) = cddl::validate_cbor_from_slice(TOKEN_CDDL, &bytes, None) {
            failures.push(format!("revocation {name}: loupe-root: {e}"));
        }
    }
    report("loupe-root", failures);
}

#[test]
fn signed_tokens_match_the_cddl() {
    let mut failures = Vec::new();
    for (name, bytes, token) in token_rows() {
        for (rule, item) in [
            ("token", bytes.as_slice()),
            ("token", token.logged_bytes()),
            ("token-protected", token.protected_header_bytes()),
            ("token-payload", token.payload_bytes()),
        ] {
            if let Err(e) = cddl(rule, item) {
                failures.push(format!("{name}: rule {rule}: {e}"));
            }
        }
        for r in token.receipts() {
            if let Err(e) = cddl("receipt", r) {
                failures.push(format!("{name}: rule receipt: {e}"));
            }
        }
        // A token is not a revocation, and its payload is not a revocation's.
        if cddl("revocation", &bytes).is_ok() {
            failures.push(format!("{name}: also matches rule revocation"));
        }
        if cddl("revocation-payload", token.payload_bytes()).is_ok() {
            failures.push(format!("{name}: payload also matches revocation-payload"));
        }
    }
    report("tokens vs token.cddl", failures);
}

#[test]
fn signed_revocations_match_the_cddl() {
    let mut failures = Vec::new();
    for (name, bytes, rev) in revocation_rows() {
        for (rule, item) in [
            ("revocation", bytes.as_slice()),
            ("revocation", rev.logged_bytes()),
            ("revocation-payload", rev.payload_bytes()),
        ] {
            if let Err(e) = cddl(rule, item) {
                failures.push(format!("{name}: rule {rule}: {e}"));
            }
        }
        let parts = Parts::of(rev.logged_bytes(), test_key(1));
        let protected = cbor::encode(&parts.protected);
        if let Err(e) = cddl("revocation-protected", &protected) {
            failures.push(format!("{name}: rule revocation-protected: {e}"));
        }
        if cddl("token", &bytes).is_ok() {
            failures.push(format!("{name}: also matches rule token"));
        }
        if cddl("token-payload", rev.payload_bytes()).is_ok() {
            failures.push(format!("{name}: payload also matches token-payload"));
        }
    }
    report("revocations vs token.cddl", failures);
}

#[test]
fn json_schemas_compile_offline() {
    for (name, _) in JSON_SCHEMAS {
        json_validator(name);
    }
}

#[test]
fn provenance_json_view_matches_provenance_schema() {
    let mut failures = Vec::new();
    for (name, _, token) in token_rows() {
        let view = serde_json::to_value(token.provenance()).unwrap();
        if let Err(e) = json_errors(&PROVENANCE_SCHEMA, &view) {
            failures.push(format!("{name}: {e}"));
        }
        match serde_json::from_value::<Provenance>(view) {
            Ok(back) if &back == token.provenance() => {}
            Ok(_) => failures.push(format!("{name}: JSON view does not round-trip")),
            Err(e) => failures.push(format!("{name}: JSON view does not parse back: {e}")),
        }
    }
    report("provenance.schema.json", failures);
}

#[test]
fn token_json_view_matches_token_schema() {
    let mut failures = Vec::new();
    for (name, _, token) in token_rows() {
        let view = token_view(&token);
        if let Err(e) = json_errors(&TOKEN_SCHEMA, &view) {
            failures.push(format!("{name}: {e}"));
        }
        if view["id"].as_str().unwrap().parse::<TokenId>().ok() != Some(token.id()) {
            failures.push(format!("{name}: id does not parse back"));
        }
    }
    report("token.schema.json", failures);
}

// ------------------------------------------------------------------ negative: CBOR

/// What a negative row breaks, and so which rules must reject it.
#[derive(Clone, Copy)]
enum Broken {
    /// The payload alone must also fail its payload rule.
    Payload,
    /// Only the whole statement fails (headers, framing).
    Envelope,
}

/// An edit to the parts of a statement.
type Edit = fn(&mut Parts);

struct CborRow {
    name: &'static str,
    broken: Broken,
    edit: Edit,
}

fn bad_token_rows() -> Vec<CborRow> {
    use Broken::{Envelope, Payload};
    let row = |name, broken, edit| CborRow { name, broken, edit };
    vec![
        row("unknown image role", Payload, |p| {
            let img = first_item(at(&mut p.payload, &text("images")));
            set(img, text("role"), text("crown"));
        }),
        row("video role in images", Payload, |p| {
            let img = first_item(at(&mut p.payload, &text("images")));
            set(img, text("role"), text("light-play"));
        }),
        row("image role in videos", Payload, |p| {
            let mut v = at(&mut p.payload, &text("images")).clone();
            set(first_item(&mut v), text("role"), text("face-up"));
            set(&mut p.payload, text("videos"), v);
        }),
        row("report sha256 of 31 bytes", Payload, |p| {
            let r = at(&mut p.payload, &text("report"));
            set(r, text("sha256"), Value::Bytes(vec![0xab; 31]));
        }),
        row("image sha256 of 33 bytes", Payload, |p| {
            let img = first_item(at(&mut p.payload, &text("images")));
            set(img, text("sha256"), Value::Bytes(vec![0xab; 33]));
        }),
        row("sha256 as text", Payload, |p| {
            let r = at(&mut p.payload, &text("report"));
            set(r, text("sha256"), text(&"ab".repeat(32)));
        }),
        row("missing stone.clarity", Payload, |p| {
            remove(at(&mut p.payload, &text("stone")), &text("clarity"));
        }),
        row("missing stone", Payload, |p| {
            remove(&mut p.payload, &text("stone"));
        }),
        row("missing videos", Payload, |p| {
            remove(&mut p.payload, &text("videos"));
        }),
        row("missing report.size", Payload, |p| {
            remove(at(&mut p.payload, &text("report")), &text("size"));
        }),
        row("unknown payload key (owner)", Payload, |p| {
            set(&mut p.payload, text("owner"), text("J. Doe"));
        }),
        row("unknown stone key", Payload, |p| {
            set(at(&mut p.payload, &text("stone")), text("price"), int(1));
        }),
        row("weight_mct negative", Payload, |p| {
            set(
                at(&mut p.payload, &text("stone")),
                text("weight_mct"),
                int(-1),
            );
        }),
        row("weight_mct as text", Payload, |p| {
            let s = at(&mut p.payload, &text("stone"));
            set(s, text("weight_mct"), text("1.52 ct"));
        }),
        row("dimensions_um with 2 items", Payload, |p| {
            let s = at(&mut p.payload, &text("stone"));
            set(s, text("dimensions_um"), Value::Array(vec![int(1), int(2)]));
        }),
        row("colour as bytes", Payload, |p| {
            let s = at(&mut p.payload, &text("stone"));
            set(s, text("colour"), Value::Bytes(b"red".to_vec()));
        }),
        row("supersedes of 31 bytes", Payload, |p| {
            set(
                &mut p.payload,
                text("supersedes"),
                Value::Bytes(vec![1; 31]),
            );
        }),
        row("payload is an array", Payload, |p| {
            p.payload = Value::Array(vec![]);
        }),
        row("wrong content type", Envelope, |p| {
            set(&mut p.protected, int(3), text("application/cbor"));
        }),
        row("revocation content type on a token", Envelope, |p| {
            set(&mut p.protected, int(3), text(REVOCATION_CONTENT_TYPE));
        }),
        row("content type as a CoAP number", Envelope, |p| {
            set(&mut p.protected, int(3), int(60));
        }),
        row("alg -7 (ES256)", Envelope, |p| {
            set(&mut p.protected, int(1), int(-7));
        }),
        row("missing alg", Envelope, |p| {
            remove(&mut p.protected, &int(1));
        }),
        row("kid of 15 bytes", Envelope, |p| {
            set(&mut p.protected, int(4), Value::Bytes(vec![1; 15]));
        }),
        row("missing CWT claims", Envelope, |p| {
            remove(&mut p.protected, &int(15));
        }),
        row("cti of 15 bytes", Envelope, |p| {
            set(
                at(&mut p.protected, &int(15)),
                int(7),
                Value::Bytes(vec![1; 15]),
            );
        }),
        row("missing sub", Envelope, |p| {
            remove(at(&mut p.protected, &int(15)), &int(2));
        }),
        row("iat negative", Envelope, |p| {
            set(at(&mut p.protected, &int(15)), int(6), int(-1));
        }),
        row("extra claim (exp)", Envelope, |p| {
            set(at(&mut p.protected, &int(15)), int(4), int(2_000_000_000));
        }),
        row("x5chain array of one certificate", Envelope, |p| {
            let cert = Value::Bytes(LAB_CERT.to_vec());
            set(&mut p.protected, int(33), Value::Array(vec![cert]));
        }),
        row("x5chain as text", Envelope, |p| {
            set(&mut p.protected, int(33), text("MIIB..."));
        }),
        row("signature of 63 bytes", Envelope, |p| {
            p.signature = Some(vec![0; 63]);
        }),
        row("untagged COSE_Sign1", Envelope, |p| {
            p.tagged = false;
        }),
        row("unprotected kid", Envelope, |p| {
            set(&mut p.unprotected, int(4), Value::Bytes(vec![1; 16]));
        }),
        row("receipts: empty array", Envelope, |p| {
            set(&mut p.unprotected, int(394), Value::Array(vec![]));
        }),
        row("receipts: bare receipt, not in an array", Envelope, |p| {
            let r = receipt_for(b"leaf");
            set(&mut p.unprotected, int(394), Value::Bytes(r));
        }),
    ]
}

#[test]
fn malformed_tokens_fail_the_cddl_and_the_parser() {
    let key = test_key(1);
    let mut p = provenance();
    p.videos = vec![video()];
    let good = builder(p).sign(&key).unwrap();
    let base = Parts::of(good.logged_bytes(), key);
    // The base itself passes, so each row fails for its own edit.
    assert_eq!(cddl("token", &base.encode()), Ok(()));
    assert!(Token::parse(&base.encode()).is_ok());

    let mut failures = Vec::new();
    for row in bad_token_rows() {
        let mut parts = base.clone();
        (row.edit)(&mut parts);
        let bytes = parts.encode();
        if cddl("token", &bytes).is_ok() {
            failures.push(format!("{}: rule token accepts it", row.name));
        }
        if cddl("loupe-root", &bytes).is_ok() {
            failures.push(format!("{}: rule loupe-root accepts it", row.name));
        }
        if let Ok(t) = Token::parse(&bytes) {
            failures.push(format!(
                "{}: Token::parse accepts it (id {})",
                row.name,
                t.id()
            ));
        }
        if let Ok(s) = Statement::parse(&bytes) {
            failures.push(format!(
                "{}: Statement::parse accepts it (id {})",
                row.name,
                s.id()
            ));
        }
        if matches!(row.broken, Broken::Payload)
            && cddl("token-payload", &parts.payload_bytes()).is_ok()
        {
            failures.push(format!(
                "{}: rule token-payload accepts the payload",
                row.name
            ));
        }
    }
    report("malformed tokens", failures);
}

fn bad_revocation_rows() -> Vec<CborRow> {
    use Broken::{Envelope, Payload};
    let row = |name, broken, edit| CborRow { name, broken, edit };
    vec![
        row("revokes of 31 bytes", Payload, |p| {
            set(&mut p.payload, text("revokes"), Value::Bytes(vec![1; 31]));
        }),
        row("missing reason", Payload, |p| {
            remove(&mut p.payload, &text("reason"));
        }),
        row("missing iat (6)", Payload, |p| {
            remove(&mut p.payload, &int(6));
        }),
        row("iat as text key", Payload, |p| {
            remove(&mut p.payload, &int(6));
            set(&mut p.payload, text("iat"), int(1_700_000_100));
        }),
        row("unknown payload key", Payload, |p| {
            set(&mut p.payload, text("note"), text("x"));
        }),
        row("token content type on a revocation", Envelope, |p| {
            set(&mut p.protected, int(3), text(TOKEN_CONTENT_TYPE));
        }),
        row("sub claim on a revocation", Envelope, |p| {
            set(at(&mut p.protected, &int(15)), int(2), text("R-1"));
        }),
        row("alg -8 as text", Envelope, |p| {
            set(&mut p.protected, int(1), text("EdDSA"));
        }),
        row("signature of 65 bytes", Envelope, |p| {
            p.signature = Some(vec![0; 65]);
        }),
    ]
}

#[test]
fn malformed_revocations_fail_the_cddl_and_the_parser() {
    let key = test_key(1);
    let good = RevocationBuilder::new("lab.example", TokenId([7; 32]), "withdrawn")
        .iat(1_700_000_100)
        .sign(&key)
        .unwrap();
    let base = Parts::of(good.logged_bytes(), key);
    assert_eq!(cddl("revocation", &base.encode()), Ok(()));
    assert!(SignedRevocation::parse(&base.encode()).is_ok());

    let mut failures = Vec::new();
    for row in bad_revocation_rows() {
        let mut parts = base.clone();
        (row.edit)(&mut parts);
        let bytes = parts.encode();
        if cddl("revocation", &bytes).is_ok() {
            failures.push(format!("{}: rule revocation accepts it", row.name));
        }
        if cddl("loupe-root", &bytes).is_ok() {
            failures.push(format!("{}: rule loupe-root accepts it", row.name));
        }
        if let Ok(r) = SignedRevocation::parse(&bytes) {
            failures.push(format!(
                "{}: SignedRevocation::parse accepts it (id {})",
                row.name,
                r.id()
            ));
        }
        if matches!(row.broken, Broken::Payload)
            && cddl("revocation-payload", &parts.payload_bytes()).is_ok()
        {
            failures.push(format!(
                "{}: rule revocation-payload accepts the payload",
                row.name
            ));
        }
    }
    report("malformed revocations", failures);
}

/// The receipt rule itself and the crate's receipt parser. These rows show
/// the `cddl` crate checks what `receipt` uses (`nil`, a literal value
/// `395 => 1`, a negative integer key `-1`, `.cbor` nested twice) and that
/// `bundle::Receipt::parse` refuses the same receipts.
#[test]
fn malformed_receipts_fail_the_cddl() {
    let key = test_key(1);
    let token = builder(provenance()).sign(&key).unwrap();
    let good = receipt_for(token.logged_bytes());
    assert_eq!(cddl("receipt", &good), Ok(()));
    // What the crate signs matches the rule too.
    let mut log = loupe_schemas::merkle::MemoryHashStore::default();
    log.append_leaf(token.logged_bytes()).unwrap();
    log.append_leaf(b"next").unwrap();
    let proof = loupe_schemas::merkle::prove_inclusion(0, 2, &log).unwrap();
    let signed = Receipt::sign(
        &log_key(),
        loupe_schemas::token::Algorithm::EdDsa,
        "lab.example/log",
        &proof,
        &log.root().unwrap(),
    );
    assert_eq!(cddl("receipt", &signed), Ok(()));
    assert!(Receipt::parse(&signed).is_ok());
    let base = Parts::of(&good, log_key());
    let rows: [(&str, Edit); 8] = [
        ("vds 2", |p| set(&mut p.protected, int(395), int(2))),
        ("missing vds", |p| remove(&mut p.protected, &int(395))),
        ("attached payload", |p| {
            p.payload = Value::Bytes(vec![0; 32])
        }),
        ("inclusion proofs under +1, not -1", |p| {
            let vdp = at(&mut p.unprotected, &int(396));
            let proofs = at(vdp, &int(-1)).clone();
            *vdp = Value::Map(vec![(int(1), proofs)]);
        }),
        ("no inclusion proof", |p| {
            let vdp = at(&mut p.unprotected, &int(396));
            set(vdp, int(-1), Value::Array(vec![]));
        }),
        ("inclusion path hash of 31 bytes", |p| {
            let proof = Value::Array(vec![
                int(2),
                int(0),
                Value::Array(vec![Value::Bytes(vec![0; 31])]),
            ]);
            let vdp = at(&mut p.unprotected, &int(396));
            set(
                vdp,
                int(-1),
                Value::Array(vec![Value::Bytes(cbor::encode(&proof))]),
            );
        }),
        ("negative leaf index", |p| {
            let proof = Value::Array(vec![int(1), int(-1), Value::Array(vec![])]);
            let vdp = at(&mut p.unprotected, &int(396));
            set(
                vdp,
                int(-1),
                Value::Array(vec![Value::Bytes(cbor::encode(&proof))]),
            );
        }),
        ("log origin missing", |p| {
            set(&mut p.protected, int(15), Value::Map(vec![]));
        }),
    ];
    let mut failures = Vec::new();
    for (name, edit) in rows {
        let mut parts = base.clone();
        edit(&mut parts);
        let bytes = encode_receipt(&parts);
        if cddl("receipt", &bytes).is_ok() {
            failures.push(format!("{name}: rule receipt accepts it"));
        }
        if Receipt::parse(&bytes).is_ok() {
            failures.push(format!("{name}: Receipt::parse accepts it"));
        }
    }
    report("malformed receipts", failures);
}

/// Like [`Parts::encode`], but the payload is written as is (a receipt's is
/// `nil`, detached) and the signature is left as zeros: the schema does not
/// see signatures.
fn encode_receipt(p: &Parts) -> Vec<u8> {
    cbor::encode(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(cbor::encode(&p.protected)),
            p.unprotected.clone(),
            p.payload.clone(),
            Value::Bytes(vec![0; 64]),
        ])),
    ))
}

// ------------------------------------------------------------------ negative: JSON

struct JsonRow {
    name: &'static str,
    edit: fn(&mut Json),
}

fn bad_provenance_rows() -> Vec<JsonRow> {
    let row = |name, edit| JsonRow { name, edit };
    vec![
        row("unknown image role", |j| {
            j["images"][0]["role"] = "crown".into()
        }),
        row("video role in images", |j| {
            j["images"][0]["role"] = "light-play".into();
        }),
        row("image role in videos", |j| {
            j["videos"][0]["role"] = "table".into()
        }),
        row("sha256 of 31 bytes (62 hex)", |j| {
            j["report"]["sha256"] = "ab".repeat(31).into();
        }),
        row("sha256 upper-case hex", |j| {
            j["report"]["sha256"] = "AB".repeat(32).into();
        }),
        row("sha256 as base64", |j| {
            j["report"]["sha256"] = STANDARD.encode([0xab; 32]).into();
        }),
        row("missing stone.clarity", |j| {
            j["stone"].as_object_mut().unwrap().remove("clarity");
        }),
        row("missing report", |j| {
            j.as_object_mut().unwrap().remove("report");
        }),
        row("missing image size", |j| {
            j["images"][0].as_object_mut().unwrap().remove("size");
        }),
        row("unknown top-level key (owner)", |j| {
            j["owner"] = "J. Doe".into()
        }),
        row("unknown stone key", |j| j["stone"]["price"] = 1.into()),
        row("weight_mct zero", |j| j["stone"]["weight_mct"] = 0.into()),
        row("weight_mct negative", |j| {
            j["stone"]["weight_mct"] = (-5).into()
        }),
        row("weight_mct fractional", |j| {
            j["stone"]["weight_mct"] = 1.52.into()
        }),
        row("weight_mct as text", |j| {
            j["stone"]["weight_mct"] = "1520".into()
        }),
        row("size over u64", |j| {
            j["report"]["size"] = serde_json::from_str("18446744073709551616").unwrap();
        }),
        row("dimensions_um with 2 items", |j| {
            j["stone"]["dimensions_um"] = json!([1, 2]);
        }),
        row("dimensions_um negative", |j| {
            j["stone"]["dimensions_um"] = json!([1, -2, 3]);
        }),
        row("empty colour", |j| j["stone"]["colour"] = "".into()),
        row("variety of 257 ASCII characters", |j| {
            j["stone"]["variety"] = "a".repeat(257).into();
        }),
        row("media type without subtype", |j| {
            j["report"]["media_type"] = "pdf".into();
        }),
        row("media type with a space", |j| {
            j["images"][0]["media_type"] = "image/ jpeg".into();
        }),
        row("media type of 128 characters", |j| {
            j["report"]["media_type"] = format!("application/{}", "x".repeat(116)).into();
        }),
        row("seven images", |j| {
            let first = j["images"][0].clone();
            let images = j["images"].as_array_mut().unwrap();
            images.extend(std::iter::repeat_n(first, 7 - images.len()));
        }),
        row("two videos", |j| {
            let v = j["videos"][0].clone();
            j["videos"].as_array_mut().unwrap().push(v);
        }),
        row("supersedes of 42 characters", |j| {
            j["supersedes"] = "A".repeat(42).into()
        }),
        row("supersedes with non-canonical last character", |j| {
            j["supersedes"] = format!("{}B", "A".repeat(42)).into();
        }),
        row("supersedes in standard base64 alphabet", |j| {
            j["supersedes"] = format!("{}+A", "A".repeat(41)).into();
        }),
        row("images is an object", |j| j["images"] = json!({})),
    ]
}

#[test]
fn malformed_provenance_json_fails_the_schema_and_the_parser() {
    let mut p = provenance();
    p.images = ImageRole::ALL.iter().map(|r| image(*r)).collect();
    p.videos = vec![video()];
    p.stone.origin = Some("Myanmar".into());
    p.supersedes = Some(TokenId([0x5a; 32]));
    let base = serde_json::to_value(&p).unwrap();
    assert_eq!(json_errors(&PROVENANCE_SCHEMA, &base), Ok(()));

    let mut failures = Vec::new();
    for row in bad_provenance_rows() {
        let mut j = base.clone();
        (row.edit)(&mut j);
        if PROVENANCE_SCHEMA.is_valid(&j) {
            failures.push(format!("{}: provenance.schema.json accepts it", row.name));
        }
        if serde_json::from_value::<Provenance>(j).is_ok() {
            failures.push(format!("{}: the crate's JSON parser accepts it", row.name));
        }
    }
    report("malformed provenance JSON", failures);
}

fn bad_token_view_rows() -> Vec<JsonRow> {
    let row = |name, edit| JsonRow { name, edit };
    vec![
        row("alg -7", |j| j["alg"] = (-7).into()),
        row("alg as text", |j| j["alg"] = "EdDSA".into()),
        row("kid upper-case", |j| {
            j["kid"] = j["kid"].as_str().unwrap().to_uppercase().into();
        }),
        row("kid of 15 bytes", |j| j["kid"] = "ab".repeat(15).into()),
        row("id of 44 characters (padded)", |j| {
            j["id"] = format!("{}=", j["id"].as_str().unwrap()).into();
        }),
        row("cti of 15 bytes", |j| {
            j["claims"]["cti"] = "ab".repeat(15).into()
        }),
        row("missing sub", |j| {
            j["claims"].as_object_mut().unwrap().remove("sub");
        }),
        row("empty iss", |j| j["claims"]["iss"] = "".into()),
        row("sub of 129 characters", |j| {
            j["claims"]["sub"] = "R".repeat(129).into()
        }),
        row("iat negative", |j| j["claims"]["iat"] = (-1).into()),
        row("extra claim (exp)", |j| {
            j["claims"]["exp"] = 2_000_000_000.into()
        }),
        row("unknown top-level key", |j| j["receipts"] = json!([])),
        row("empty x5chain", |j| j["x5chain"] = json!([])),
        row("provenance with an unknown role", |j| {
            j["provenance"]["images"][0]["role"] = "crown".into();
        }),
    ]
}

/// The crate's reading of each part of the token view, where it has one.
fn crate_reads_token_view(j: &Json) -> Result<(), String> {
    let id = j["id"].as_str().ok_or("id is not a string")?;
    id.parse::<TokenId>().map_err(|e| e.to_string())?;
    j["alg"]
        .as_i64()
        .and_then(Algorithm::from_cose_value)
        .ok_or("alg")?;
    let kid = j["kid"].as_str().ok_or("kid is not a string")?;
    // Kid has no parser of its own; a Cti has the same form (16 bytes, hex).
    kid.parse::<Cti>().map_err(|e| e.to_string())?;
    let claims: loupe_schemas::token::CwtClaims =
        serde_json::from_value(j["claims"].clone()).map_err(|e| e.to_string())?;
    claims.validate().map_err(|e| e.to_string())?;
    serde_json::from_value::<Provenance>(j["provenance"].clone()).map_err(|e| e.to_string())?;
    let known = ["id", "alg", "kid", "claims", "provenance", "x5chain"];
    if let Some(k) = j
        .as_object()
        .unwrap()
        .keys()
        .find(|k| !known.contains(&k.as_str()))
    {
        return Err(format!("unknown key {k}"));
    }
    if let Some(chain) = j.get("x5chain") {
        let chain = chain.as_array().ok_or("x5chain")?;
        // The crate's rule for x5chain (TokenBuilder::x5chain): non-empty.
        if chain.is_empty() {
            return Err("empty x5chain".into());
        }
    }
    Ok(())
}

#[test]
fn malformed_token_json_view_fails_the_schema_and_the_crate() {
    let token = builder(provenance())
        .x5chain(vec![LAB_CERT.to_vec(), ROOT_CERT.to_vec()])
        .sign(&lab_key())
        .unwrap();
    let base = token_view(&token);
    assert_eq!(json_errors(&TOKEN_SCHEMA, &base), Ok(()));
    assert_eq!(crate_reads_token_view(&base), Ok(()));

    let mut failures = Vec::new();
    for row in bad_token_view_rows() {
        let mut j = base.clone();
        (row.edit)(&mut j);
        if TOKEN_SCHEMA.is_valid(&j) {
            failures.push(format!("{}: token.schema.json accepts it", row.name));
        }
        if crate_reads_token_view(&j).is_ok() {
            failures.push(format!("{}: the crate's parsers accept it", row.name));
        }
    }
    report("malformed token JSON views", failures);
}

// ------------------------------------------------------------------ known disagreements

/// A row on which the schema and the crate currently disagree. Reported for
/// a decision; pinned so that a change on either side is noticed.
struct Disagreement {
    name: &'static str,
    /// Does the schema accept it?
    schema_accepts: bool,
    /// Does the crate accept (parse, or make) it?
    crate_accepts: bool,
}

fn pin(rows: Vec<Disagreement>, expected: &[(&str, bool, bool)]) {
    let mut failures = Vec::new();
    for (row, (name, schema, krate)) in rows.iter().zip(expected) {
        assert_eq!(row.name, *name);
        if (row.schema_accepts, row.crate_accepts) != (*schema, *krate) {
            failures.push(format!(
                "{}: expected schema {} / crate {}, now schema {} / crate {}: the disagreement \
                 changed; decide, then move the row to the positive or negative tables",
                row.name,
                verdict(*schema),
                verdict(*krate),
                verdict(row.schema_accepts),
                verdict(row.crate_accepts),
            ));
        }
    }
    assert_eq!(rows.len(), expected.len());
    report("known disagreements", failures);
}

fn verdict(accepts: bool) -> &'static str {
    if accepts { "accepts" } else { "rejects" }
}

/// CBOR: `token.cddl` maps are closed and receipts are `bstr .cbor receipt`;
/// the crate's parser follows RFC 9052 (unknown non-critical headers are
/// ignored, `crit` is honoured) and takes any non-empty byte string as a
/// receipt, leaving receipts to be checked when they are verified.
#[test]
fn known_disagreements_cbor() {
    let key = test_key(1);
    let good = builder(provenance()).sign(&key).unwrap();
    let base = Parts::of(good.logged_bytes(), key.clone());
    let cases: Vec<(&'static str, Edit)> = vec![
        (
            "unknown non-critical protected header (16: typ)",
            (|p: &mut Parts| set(&mut p.protected, int(16), text("application/x"))),
        ),
        (
            "text-labelled protected header",
            (|p: &mut Parts| set(&mut p.protected, text("lab-note"), text("x"))),
        ),
        (
            "crit [15] in the protected header",
            (|p: &mut Parts| {
                set(&mut p.protected, int(2), Value::Array(vec![int(15)]));
            }),
        ),
        (
            "receipt that is not a COSE receipt",
            (|p: &mut Parts| {
                let junk = Value::Array(vec![Value::Bytes(vec![0x01])]);
                set(&mut p.unprotected, int(394), junk);
            }),
        ),
        (
            "weight_mct 0 and a zero dimension (CDDL uint)",
            (|p: &mut Parts| {
                let s = at(&mut p.payload, &text("stone"));
                set(s, text("weight_mct"), int(0));
                set(
                    s,
                    text("dimensions_um"),
                    Value::Array(vec![int(0), int(1), int(1)]),
                );
            }),
        ),
        (
            "duplicate image role (CDDL [* image-digest])",
            (|p: &mut Parts| {
                let images = at(&mut p.payload, &text("images"));
                let first = first_item(images).clone();
                let Value::Array(a) = images else { panic!() };
                a.push(first);
            }),
        ),
        (
            "empty text and a newline in stone fields (CDDL tstr)",
            (|p: &mut Parts| {
                let s = at(&mut p.payload, &text("stone"));
                set(s, text("cut"), text(""));
                set(s, text("colour"), text("red\nblue"));
            }),
        ),
    ];
    let rows = cases
        .into_iter()
        .map(|(name, edit)| {
            let mut parts = base.clone();
            edit(&mut parts);
            let bytes = parts.encode();
            Disagreement {
                name,
                schema_accepts: cddl("token", &bytes).is_ok(),
                crate_accepts: Token::parse(&bytes).is_ok(),
            }
        })
        .collect();
    pin(
        rows,
        &[
            // Settled: Loupe statements are a closed COSE profile; both refuse.
            (
                "unknown non-critical protected header (16: typ)",
                false,
                false,
            ),
            ("text-labelled protected header", false, false),
            // Settled: `crit` may name 15 or 33; both accept.
            ("crit [15] in the protected header", true, true),
            // Settled: receipts are opaque to the token rule and the token
            // parser alike; a verifier parses each receipt it relies on.
            ("receipt that is not a COSE receipt", true, true),
            // Settled: the CDDL now says `uint .ge 1`; both refuse.
            (
                "weight_mct 0 and a zero dimension (CDDL uint)",
                false,
                false,
            ),
            ("duplicate image role (CDDL [* image-digest])", true, false),
            (
                "empty text and a newline in stone fields (CDDL tstr)",
                true,
                false,
            ),
        ],
    );
}

/// JSON: rows once in disagreement, now settled (iss ≤ 255, no control
/// characters, no zero dimensions, `videos` optional on input), and the two
/// that JSON Schema cannot express: limits in bytes rather than characters,
/// and one image per role.
#[test]
fn known_disagreements_json() {
    let key = test_key(1);
    let mut rows = Vec::new();

    // An issuer of 254 characters: the crate signs it; its view fails the schema.
    let long_iss = "l".repeat(250) + ".lab";
    let made = TokenBuilder::new(long_iss, "R-1", provenance()).sign(&key);
    rows.push(Disagreement {
        name: "iss of 254 characters",
        schema_accepts: made
            .as_ref()
            .is_ok_and(|t| TOKEN_SCHEMA.is_valid(&token_view(t))),
        crate_accepts: made.is_ok(),
    });

    let base = serde_json::to_value(provenance()).unwrap();
    let provenance_row = |name, edit: &dyn Fn(&mut Json)| {
        let mut j = base.clone();
        edit(&mut j);
        Disagreement {
            name,
            schema_accepts: PROVENANCE_SCHEMA.is_valid(&j),
            crate_accepts: serde_json::from_value::<Provenance>(j).is_ok(),
        }
    };
    rows.push(provenance_row("colour of 200 'é' (400 bytes)", &|j| {
        j["stone"]["colour"] = "é".repeat(200).into();
    }));
    rows.push(provenance_row("newline in colour", &|j| {
        j["stone"]["colour"] = "red\nblue".into();
    }));
    rows.push(provenance_row("a zero dimension", &|j| {
        j["stone"]["dimensions_um"] = json!([0, 1, 1]);
    }));
    rows.push(provenance_row("duplicate image role", &|j| {
        j["images"][1]["role"] = "face-up".into();
    }));
    rows.push(provenance_row("missing videos", &|j| {
        j.as_object_mut().unwrap().remove("videos");
    }));
    pin(
        rows,
        &[
            // Settled: the schema allows 255, like the crate.
            ("iss of 254 characters", true, true),
            // Open: JSON Schema counts characters, the crate bytes.
            ("colour of 200 'é' (400 bytes)", true, false),
            // Settled: the schema refuses control characters and zeros.
            ("newline in colour", false, false),
            ("a zero dimension", false, false),
            // Open: JSON Schema cannot say "one item per role".
            ("duplicate image role", true, false),
            // Settled: `videos` is optional on input in both.
            ("missing videos", true, true),
        ],
    );
}
