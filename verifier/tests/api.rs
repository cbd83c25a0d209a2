//! The verification API and the buyer page over loopback, with a real
//! `loupe-issuer` (SQLite in a tempdir): verdicts by URL and by token,
//! problem+json for bad requests, rate limiting, the buyer page with its
//! photo ticks, and every verdict validated against
//! `schemas/json/verdict.schema.json`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "api_support/mod.rs"]
mod support;

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loupe_schemas::token::Sha256Digest;
use loupe_verifier::api::ApiConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Api, Lab, page_url};

// ------------------------------------------------------------- the schema

const SCHEMA_BASE: &str = "https://loupe.example/schemas/";
const SCHEMAS: [(&str, &str); 4] = [
    (
        "verdict.schema.json",
        include_str!("../../schemas/json/verdict.schema.json"),
    ),
    (
        "provenance.schema.json",
        include_str!("../../schemas/json/provenance.schema.json"),
    ),
    (
        "token.schema.json",
        include_str!("../../schemas/json/token.schema.json"),
    ),
    (
        "problem.schema.json",
        include_str!("../../schemas/json/problem.schema.json"),
    ),
];

/// Refuses every retrieval: all schemas come from the registry.
struct NoNetwork;

impl jsonschema::Retrieve for NoNetwork {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("offline: refusing to fetch {}", uri.as_str()).into())
    }
}

static REGISTRY: LazyLock<jsonschema::Registry<'static>> = LazyLock::new(|| {
    let mut builder = jsonschema::Registry::new().retriever(NoNetwork);
    for (name, text) in SCHEMAS {
        let schema: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            schema["$id"],
            format!("{SCHEMA_BASE}{name}"),
            "$id of {name}"
        );
        builder = builder.add(format!("{SCHEMA_BASE}{name}"), schema).unwrap();
    }
    builder.prepare().unwrap()
});

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_retriever(NoNetwork)
        .with_registry(&REGISTRY)
        .should_validate_formats(true)
        .build(&json!({ "$ref": format!("{SCHEMA_BASE}{name}") }))
        .unwrap_or_else(|e| panic!("schema {name} does not build: {e}"))
}

static VERDICT: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| validator("verdict.schema.json"));
static PROBLEM: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| validator("problem.schema.json"));

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:?}\n{instance:#}");
}

// ---------------------------------------------------------------- helpers

async fn post_json(lab: &Lab, api: &Api, body: &Value) -> reqwest::Response {
    lab.http
        .post(api.url("/v1/verify"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A 200 verdict, schema-checked.
async fn verdict(r: reqwest::Response, what: &str) -> Value {
    assert_eq!(r.status(), StatusCode::OK, "{what}");
    assert_eq!(r.headers()["content-type"], "application/json", "{what}");
    let v: Value = r.json().await.unwrap();
    assert_valid(&VERDICT, &v, what);
    v
}

/// A problem of `status`, schema-checked, with the house `type`.
async fn problem(r: reqwest::Response, status: StatusCode, slug: &str, what: &str) -> Value {
    assert_eq!(r.status(), status, "{what}");
    assert_eq!(
        r.headers()["content-type"],
        "application/problem+json",
        "{what}"
    );
    let v: Value = r.json().await.unwrap();
    assert_valid(&PROBLEM, &v, what);
    assert_eq!(
        v["type"],
        format!("https://loupe.example/problems/{slug}"),
        "{what}: {v}"
    );
    assert_eq!(v["status"], status.as_u16(), "{what}");
    assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()), "{what}");
    assert!(
        v["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{what}"
    );
    v
}

fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {v:#}"))
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn verify_by_url_and_by_token_give_schema_valid_verdicts() {
    let lab = Lab::start(false).await;
    // No caching of status answers: the revocation below shows at once.
    let api = Api::start(
        lab.verifier_with_ttl(std::time::Duration::ZERO),
        ApiConfig::default(),
    )
    .await;
    let t = lab.issue_json("API-1").await;

    // By URL: valid.
    let v = verdict(
        post_json(&lab, &api, &json!({"url": t.url})).await,
        "by url",
    )
    .await;
    assert_eq!(v["status"], "valid", "{v:#}");
    assert_eq!(v["url"], t.url);
    assert_eq!(v["token"]["id"], t.id);
    assert_eq!(v["token"]["claims"]["sub"], "API-1");
    assert_eq!(v["log"]["origin"], support::LOG);
    assert_eq!(check(&v, "url_token_id")["outcome"], "pass");

    // By token with its proof, and file digests: one matches, one does not.
    let good = Sha256Digest::of(b"report").to_string();
    let bad = Sha256Digest::of(b"another face").to_string();
    let body = json!({
        "token": STANDARD.encode(&t.token),
        "proof": t.proof,
        "files": {"report": good, "face-up": bad}
    });
    let v = verdict(post_json(&lab, &api, &body).await, "by token").await;
    assert_eq!(v["status"], "invalid", "a photo differs: {v:#}");
    let files: Vec<&Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "file")
        .collect();
    assert_eq!(files.len(), 2);
    assert!(
        files
            .iter()
            .any(|c| c["subject"] == "report" && c["outcome"] == "pass")
    );
    assert!(
        files
            .iter()
            .any(|c| c["subject"] == "image:face-up" && c["outcome"] == "fail")
    );

    // By token without proof (fetched from the issuer), unpadded base64.
    let body = json!({"token": STANDARD.encode(&t.token).trim_end_matches('=')});
    let v = verdict(post_json(&lab, &api, &body).await, "by token, no proof").await;
    assert_eq!(v["status"], "valid", "{v:#}");

    // A tampered token (one byte flipped): invalid, not an error.
    let mut tampered = t.token.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x01;
    let body = json!({"token": STANDARD.encode(&tampered), "proof": t.proof});
    let v = verdict(post_json(&lab, &api, &body).await, "tampered").await;
    assert_eq!(v["status"], "invalid", "{v:#}");

    // Unknown: a URL at a host nobody trusts (nothing fetched).
    let body = json!({"url": format!("https://evil.example/t/{}", t.id)});
    let v = verdict(post_json(&lab, &api, &body).await, "untrusted").await;
    assert_eq!(v["status"], "unknown", "{v:#}");
    assert_eq!(check(&v, "trusted_origin")["outcome"], "fail");

    // Unknown: a well-formed id the issuer does not have.
    let other = format!("{}/t/{}", lab.public_base, "A".repeat(43));
    let v = verdict(
        post_json(&lab, &api, &json!({"url": other})).await,
        "no such token",
    )
    .await;
    assert_eq!(v["status"], "unknown", "{v:#}");

    // Multipart: the token file, its proof, and a report file hashed in
    // the stream (wrong bytes: fails).
    let form = reqwest::multipart::Form::new()
        .part(
            "token",
            reqwest::multipart::Part::bytes(t.token.clone()).file_name("token.cose"),
        )
        .text("proof", t.proof.clone())
        .part(
            "report",
            reqwest::multipart::Part::bytes(b"not the report".to_vec()).file_name("r.pdf"),
        );
    let r = lab
        .http
        .post(api.url("/v1/verify"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let v = verdict(r, "multipart").await;
    assert_eq!(v["status"], "invalid", "{v:#}");
    assert_eq!(check(&v, "file")["subject"], "report");
    assert_eq!(check(&v, "file")["outcome"], "fail");
    assert_eq!(check(&v, "token_signature")["outcome"], "pass");

    // Multipart by URL with the right report bytes: valid.
    let form = reqwest::multipart::Form::new()
        .text("url", t.url.clone())
        .part(
            "report",
            reqwest::multipart::Part::bytes(b"report".to_vec()).file_name("r.pdf"),
        );
    let r = lab
        .http
        .post(api.url("/v1/verify"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let v = verdict(r, "multipart url").await;
    assert_eq!(v["status"], "valid", "{v:#}");
    assert_eq!(check(&v, "file")["outcome"], "pass");

    // Revoked after revocation.
    let revoke = lab
        .http
        .post(format!(
            "{}/v1/tokens/{}/revocations",
            lab.issuer_base, t.id
        ))
        .bearer_auth(lab.api_key())
        .json(&json!({"reason": "stone re-cut"}))
        .send()
        .await
        .unwrap();
    if revoke.status().is_success() {
        let v = verdict(
            post_json(&lab, &api, &json!({"url": t.url})).await,
            "revoked",
        )
        .await;
        assert_eq!(v["status"], "revoked", "{v:#}");
        assert_eq!(v["ended_by"]["reason"], "stone re-cut");
    } else {
        panic!("revocation refused: {:?}", revoke.text().await);
    }

    // Metrics count what happened.
    let text = lab
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("loupe_verifier_verifications_total{via=\"api\",status=\"valid\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("loupe_verifier_verification_seconds_count 9"),
        "{text}"
    );
    // The connection loop's counters: this client's connection is open.
    let open = text
        .lines()
        .find_map(|l| l.strip_prefix("loupe_verifier_http_connections_open "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(matches!(open, Some(n) if n >= 1), "{text}");
    api.stop();
    lab.stop().await;
}

#[tokio::test]
async fn bad_requests_get_problems() {
    let lab = Lab::start(false).await;
    let config = ApiConfig {
        body_limit: 64 * 1024,
        json_limit: 16 * 1024,
        ..ApiConfig::default()
    };
    let api = Api::start(lab.verifier(), config).await;
    let post = |body: Vec<u8>, ct: &'static str| {
        lab.http
            .post(api.url("/v1/verify"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let json_ct = "application/json";
    let rows: Vec<(&str, Vec<u8>, &str, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            b"{\"url\":".to_vec(),
            json_ct,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "bad base64",
            br#"{"token":"***not base64***"}"#.to_vec(),
            json_ct,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "unknown field",
            br#"{"url":"https://lab.example/t/x","owner":"Jane"}"#.to_vec(),
            json_ct,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "wrong type",
            br#"{"url":42}"#.to_vec(),
            json_ct,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "neither url nor token",
            b"{}".to_vec(),
            json_ct,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "both url and token",
            br#"{"url":"u","token":"AAAA"}"#.to_vec(),
            json_ct,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "proof with a url",
            br#"{"url":"u","proof":"p"}"#.to_vec(),
            json_ct,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "unknown file role",
            br#"{"url":"u","files":{"top-down":"00"}}"#.to_vec(),
            json_ct,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "bad digest",
            br#"{"url":"u","files":{"report":"XYZ"}}"#.to_vec(),
            json_ct,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "oversize JSON",
            format!("{{\"url\":\"{}\"}}", "a".repeat(20_000)).into_bytes(),
            json_ct,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
        ),
        (
            "text/plain",
            b"https://lab.example/t/x".to_vec(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
    ];
    for (what, body, ct, status, slug) in rows {
        let r = post(body, ct).await.unwrap();
        let v = problem(r, status, slug, what).await;
        if slug == "validation" && what == "unknown field" {
            assert_eq!(v["field"], "owner", "{what}: {v}");
        }
        if slug == "payload-too-large" {
            assert_eq!(v["limit"], 16 * 1024, "{what}: {v}");
        }
    }

    // A token over 64 KiB.
    let big = STANDARD.encode(vec![0u8; 65 * 1024]);
    let config_big = ApiConfig::default();
    let api_big = Api::start(lab.verifier(), config_big).await;
    let r = lab
        .http
        .post(api_big.url("/v1/verify"))
        .json(&json!({"token": big}))
        .send()
        .await
        .unwrap();
    problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        "token too large",
    )
    .await;
    api_big.stop();

    // Multipart: an oversize file (streamed past the body limit), an
    // unknown part, and a duplicate part.
    let form = reqwest::multipart::Form::new()
        .text("url", "https://lab.example/t/x")
        .part(
            "report",
            reqwest::multipart::Part::bytes(vec![7u8; 100 * 1024]).file_name("r.pdf"),
        );
    let r = lab
        .http
        .post(api.url("/v1/verify"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let v = problem(
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "oversize multipart",
    )
    .await;
    assert_eq!(v["limit"], 64 * 1024);
    let form = reqwest::multipart::Form::new()
        .text("url", "https://lab.example/t/x")
        .text("owner", "Jane");
    let r = lab
        .http
        .post(api.url("/v1/verify"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        "unknown part",
    )
    .await;
    let form = reqwest::multipart::Form::new()
        .text("url", "https://lab.example/t/x")
        .text("url", "https://lab.example/t/y");
    let r = lab
        .http
        .post(api.url("/v1/verify"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        "duplicate part",
    )
    .await;

    // Routing problems.
    let r = lab.http.get(api.url("/v1/verify")).send().await.unwrap();
    problem(
        r,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "GET /v1/verify",
    )
    .await;
    let r = lab.http.get(api.url("/nope")).send().await.unwrap();
    problem(r, StatusCode::NOT_FOUND, "not-found", "no route").await;
    let r = lab
        .http
        .get(api.url(&format!("/photo/{}", Sha256Digest::of(b"x"))))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::NOT_FOUND, "not-found", "unverified photo").await;

    // healthz and openapi.
    let h: Value = lab
        .http
        .get(api.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h, json!({"status": "ok", "issuers": 1, "online": true}));
    let doc: Value = lab
        .http
        .get(api.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/verify"]["post"].is_object());
    assert_eq!(
        doc["components"]["schemas"]["verdict"]["$id"],
        "https://loupe.example/schemas/verdict.schema.json"
    );
    assert_eq!(
        doc["components"]["schemas"]["problem"]["$id"],
        "https://loupe.example/schemas/problem.schema.json"
    );
    api.stop();
    lab.stop().await;
}

#[tokio::test]
async fn clients_over_their_rate_get_429_with_retry_after() {
    let lab = Lab::start(false).await;
    let t = lab.issue_json("RL-1").await;
    let config = ApiConfig {
        rate_limit_per_minute: 3,
        ..ApiConfig::default()
    };
    let api = Api::start(lab.verifier(), config).await;
    for i in 0..3 {
        let v = verdict(
            post_json(&lab, &api, &json!({"url": t.url})).await,
            "within",
        )
        .await;
        assert_eq!(v["status"], "valid", "request {i}");
    }
    let r = post_json(&lab, &api, &json!({"url": t.url})).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "Retry-After {retry}");
    problem(
        r,
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-requests",
        "over the rate",
    )
    .await;
    // The buyer page shares the allowance; health and metrics do not.
    let r = lab.http.get(page_url(&api, &t.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let m = lab.http.get(api.url("/metrics")).send().await.unwrap();
    assert_eq!(m.status(), StatusCode::OK);
    let text = m.text().await.unwrap();
    assert!(
        text.contains("loupe_verifier_rate_limited_total 2"),
        "{text}"
    );
    assert_eq!(
        lab.http
            .get(api.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    api.stop();
    lab.stop().await;
}

#[tokio::test]
async fn the_buyer_page_shows_the_verdict_the_stone_and_ticked_photos() {
    let lab = Lab::start(true).await;
    let api = Api::start(lab.verifier(), ApiConfig::default()).await;
    let t = lab.issue_multipart(0).await;

    let r = lab.http.get(page_url(&api, &t.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("<body data-status=\"valid\">"), "{page}");
    assert!(page.contains("id=\"verdict\""));
    assert!(page.contains("Valid"));
    assert!(page.contains("name=\"viewport\""));
    assert!(page.contains("lab.example"), "the lab");
    assert!(page.contains(" ct</dd>"), "the weight in carats");
    assert!(page.contains(" mm</dd>"), "the dimensions");
    // Six photos, each ticked and served from /photo/ (the verified ones).
    let images: Vec<(&str, &[u8])> = t
        .files
        .iter()
        .filter(|(n, _)| n != "report" && n != "light-play")
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    assert_eq!(images.len(), 6);
    for (role, bytes) in images {
        let digest = Sha256Digest::of(bytes);
        assert!(
            page.contains(&format!("src=\"/photo/{digest}\"")),
            "{role} photo in {page}"
        );
        assert!(page.contains(&format!("data-role=\"{role}\" data-match=\"yes\"")));
        let served = lab
            .http
            .get(api.url(&format!("/photo/{digest}")))
            .send()
            .await
            .unwrap();
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.headers()["content-type"], "image/png");
        assert_eq!(served.bytes().await.unwrap().as_ref(), bytes, "{role}");
    }
    assert_eq!(
        page.matches("role=\"img\" aria-label=\"matches\">✓")
            .count(),
        6
    );
    // Every check is listed.
    assert!(page.contains("data-check=\"token_signature\" data-outcome=\"pass\""));

    // The same token served tampered by the lab's public front: invalid,
    // no photos.
    lab.tamper_with(&t.id);
    let t2 = lab.issue_multipart(1).await;
    lab.tamper_with(&t2.id);
    let page = lab
        .http
        .get(page_url(&api, &t2.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<body data-status=\"invalid\">"), "{page}");
    assert!(page.contains("Invalid"));
    assert!(page.contains("data-check=\"url_token_id\" data-outcome=\"fail\""));
    assert!(
        !page.contains("src=\"/photo/"),
        "no photos for an invalid token"
    );

    // Without a URL: the form, with 400.
    let r = lab.http.get(api.url("/verify")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("<form"));
    let r = lab.http.get(api.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("<form"));
    api.stop();
    lab.stop().await;
}

#[tokio::test]
async fn the_page_escapes_what_it_is_given() {
    let lab = Lab::start(false).await;
    let api = Api::start(lab.verifier(), ApiConfig::default()).await;
    let evil = "https://evil.example/t/<script>alert(1)</script>\"'";
    let page = lab
        .http
        .get(page_url(&api, evil))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<body data-status=\"unknown\">"), "{page}");
    assert!(!page.contains("<script>"), "{page}");
    assert!(!page.contains("alert(1)</script>"));
    api.stop();
    lab.stop().await;
}
