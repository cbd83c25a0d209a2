//! Unit tests of the client: URL checks, answer checks, and requests
//! against small in-process axum routers on loopback (what goes over the
//! wire, problems, retries).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use ed25519_dalek::SigningKey;
use loupe_schemas::token::{ImageRole, TokenBuilder};

use super::*;
use crate::problem::ApiError;
use crate::sample::{self, SampleCapture};

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn capture(dir: &Path) -> SampleCapture {
    sample::write_sample_capture(dir, 0).expect("sample")
}

fn uploads(c: &SampleCapture) -> Vec<UploadFile> {
    c.files
        .iter()
        .map(|f| UploadFile {
            role: f.role,
            path: f.path.clone(),
            media_type: f.media_type.to_owned(),
        })
        .collect()
}

fn claims(c: &SampleCapture) -> Claims {
    Claims {
        report_number: c.report_number.clone(),
        stone: c.stone.clone(),
        supersedes: None,
    }
}

fn answer_for(report_number: &str, p: Provenance, base: &str) -> Issuance {
    let token = TokenBuilder::new("lab.example", report_number, p)
        .sign(&key())
        .expect("signs");
    Issuance {
        token_id: token.id(),
        url: format!("{base}/t/{}", token.id()),
        token: STANDARD.encode(token.logged_bytes()),
        leaf_index: 0,
        proof: "c2sp.org/tlog-proof@v1\n".into(),
    }
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

fn test_key() -> ApiKey {
    ApiKey::generate().0
}

#[test]
fn base_urls_are_checked_and_normalised() {
    for (given, want) in [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://lab.example/", "https://lab.example"),
        ("https://lab.example/loupe/", "https://lab.example/loupe"),
    ] {
        assert_eq!(check_base_url(given).expect(given), want);
    }
    for bad in [
        "lab.example",
        "ftp://lab.example",
        "https://lab.example/?q=1",
        "https://lab.example/#f",
        "https://user:pw@lab.example",
        "http://",
        "",
    ] {
        assert!(check_base_url(bad).is_err(), "{bad}");
    }
    assert!(is_loopback("http://127.0.0.1:1"));
    assert!(is_loopback("http://localhost:1"));
    assert!(is_loopback("http://[::1]:1"));
    assert!(!is_loopback("https://lab.example"));
}

#[test]
fn answers_are_checked_against_what_was_sent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = capture(tmp.path());
    let p = c.provenance();
    let good = answer_for(&c.report_number, p.clone(), "http://x");
    let issued = good
        .clone()
        .check(&c.report_number, Some(&p))
        .expect("matches");
    assert_eq!(issued.token.id(), good.token_id);

    // Images in another order are the same claims.
    let mut reordered = p.clone();
    reordered.images.reverse();
    assert!(
        good.clone()
            .check(&c.report_number, Some(&reordered))
            .is_ok()
    );

    // Another report number, another file, a wrong id or URL: refused.
    assert!(matches!(
        good.clone().check("LX-other", Some(&p)),
        Err(ClientError::Mismatch(m)) if m.contains("LX-other")
    ));
    let mut other = p.clone();
    other.images[0].sha256 = Sha256Digest([0; 32]);
    let err = good
        .clone()
        .check(&c.report_number, Some(&other))
        .expect_err("digest differs");
    assert!(err.to_string().contains("images sent"), "{err}");
    let mut wrong_id = good.clone();
    wrong_id.token_id = TokenId([0; 32]);
    assert!(matches!(
        wrong_id.check(&c.report_number, None),
        Err(ClientError::BadResponse { .. })
    ));
    let mut wrong_url = good.clone();
    wrong_url.url = "http://x/t/elsewhere".into();
    assert!(wrong_url.check(&c.report_number, None).is_err());
    let mut not_b64 = good;
    not_b64.token = "***".into();
    assert!(not_b64.check(&c.report_number, None).is_err());
}

#[test]
fn problems_render_on_one_line() {
    let p = ApiError::validation("stone.weight_mct", "must be at least 1\nreally").to_problem();
    let e = ClientError::Problem {
        status: 422,
        problem: Box::new(p),
    };
    let line = e.to_string();
    assert!(!line.contains('\n'), "{line}");
    assert!(line.contains("422 validation"), "{line}");
    assert!(line.contains("(field stone.weight_mct)"), "{line}");
    let current = TokenId([4; 32]);
    let p = ApiError::ActiveTokenExists {
        report_number: "LX-1".into(),
        current,
    }
    .to_problem();
    let e = ClientError::Problem {
        status: 409,
        problem: Box::new(p),
    };
    assert_eq!(e.active_token(), Some(current));
    assert!(e.to_string().contains("already has the active token"));
}

/// What the multipart handler saw.
#[derive(Default)]
struct Seen {
    parts: std::sync::Mutex<Vec<(String, Option<String>, usize)>>,
    auth: std::sync::Mutex<Option<String>>,
}

async fn multipart_issue(
    State(seen): State<Arc<Seen>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> axum::response::Response {
    *seen.auth.lock().expect("lock") = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut report_number = String::new();
    let mut stone = None;
    let mut report = None;
    let mut images = Vec::new();
    let mut videos = Vec::new();
    while let Some(field) = form.next_field().await.expect("field") {
        let name = field.name().unwrap_or_default().to_owned();
        let media = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.expect("bytes");
        seen.parts
            .lock()
            .expect("lock")
            .push((name.clone(), media.clone(), bytes.len()));
        let media = media.unwrap_or_default();
        let sha256 = Sha256Digest::of(&bytes);
        let size = bytes.len() as u64;
        match name.as_str() {
            "claims" => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
                report_number = v["report_number"].as_str().expect("rn").to_owned();
                stone = Some(serde_json::from_value(v["stone"].clone()).expect("stone"));
            }
            "report" => {
                report = Some(FileDigest {
                    sha256,
                    media_type: media,
                    size,
                });
            }
            "light-play" => videos.push(VideoDigest {
                role: loupe_schemas::token::VideoRole::LightPlay,
                sha256,
                media_type: media,
                size,
            }),
            role => images.push(ImageDigest {
                role: ImageRole::parse(role).expect("role"),
                sha256,
                media_type: media,
                size,
            }),
        }
    }
    let p = Provenance {
        report: report.expect("report"),
        images,
        videos,
        stone: stone.expect("stone"),
        supersedes: None,
    };
    let answer = answer_for(&report_number, p, "http://lab");
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

#[tokio::test]
async fn multipart_uploads_stream_every_file_under_its_role() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = capture(tmp.path());
    let seen = Arc::new(Seen::default());
    let base = serve(
        Router::new()
            .route("/v1/tokens", post(multipart_issue))
            .with_state(Arc::clone(&seen)),
    )
    .await;
    let key = test_key();
    let client = IssuerClient::new(&base, Some(key.clone())).expect("client");
    let issued = client
        .issue_files(&claims(&c), &uploads(&c))
        .await
        .expect("issued and checked");
    assert_eq!(issued.token.claims().sub, c.report_number);
    assert_eq!(
        seen.auth.lock().expect("lock").as_deref(),
        Some(format!("Bearer {}", key.expose_secret()).as_str())
    );
    let parts = seen.parts.lock().expect("lock").clone();
    let names: Vec<&str> = parts.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "claims",
            "report",
            "face-up",
            "table",
            "pavilion",
            "side",
            "girdle",
            "swatch",
            "light-play"
        ]
    );
    assert_eq!(parts[0].1.as_deref(), Some("application/json"));
    assert_eq!(parts[1].1.as_deref(), Some("application/pdf"));
    assert_eq!(parts[8].1.as_deref(), Some("video/mp4"));
    for (f, (_, _, len)) in c.files.iter().zip(&parts[1..]) {
        assert_eq!(*len as u64, f.size, "{}", f.path.display());
    }
    // Without a key, nothing is sent.
    let anonymous = IssuerClient::new(&base, None).expect("client");
    assert!(matches!(
        anonymous.issue_files(&claims(&c), &uploads(&c)).await,
        Err(ClientError::NoApiKey)
    ));
    // A missing file fails before the request.
    let mut files = uploads(&c);
    files[2].path = tmp.path().join("gone.png");
    assert!(matches!(
        client.issue_files(&claims(&c), &files).await,
        Err(ClientError::File { .. })
    ));
}

#[tokio::test]
async fn a_server_that_certifies_other_bytes_is_caught() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = capture(tmp.path());
    let mut lie = c.provenance();
    lie.report.sha256 = Sha256Digest([7; 32]);
    let answer = answer_for(&c.report_number, lie, "http://lab");
    let base = serve(Router::new().route(
        "/v1/tokens",
        // Reads the whole body first: answering early races the upload.
        post(move |_body: axum::body::Bytes| {
            let a = answer.clone();
            async move { (StatusCode::CREATED, axum::Json(a)) }
        }),
    ))
    .await;
    let client = IssuerClient::new(&base, Some(test_key())).expect("client");
    let err = client
        .issue_files(&claims(&c), &uploads(&c))
        .await
        .expect_err("mismatch");
    assert!(err.to_string().contains("report sent as"), "{err}");
    let p = c.provenance();
    let err = client
        .issue_digests(&c.report_number, &p)
        .await
        .expect_err("mismatch");
    assert!(matches!(err, ClientError::Mismatch(_)), "{err}");
}

#[tokio::test]
async fn problems_statuses_and_retries() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let current = TokenId([8; 32]);
    let base = serve(
        Router::new()
            .route(
                "/v1/tokens",
                post(move || {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n < 2 {
                            ApiError::Unavailable {
                                detail: "busy".into(),
                                retry_after: Some(std::time::Duration::ZERO),
                            }
                            .into_response()
                        } else {
                            ApiError::ActiveTokenExists {
                                report_number: "LX-1".into(),
                                current,
                            }
                            .into_response()
                        }
                    }
                }),
            )
            .route(
                "/healthz",
                get(|| async { (StatusCode::BAD_GATEWAY, "upstream\nfailed") }),
            )
            .route(
                "/checkpoint",
                get(|| async { "x".repeat(crate::client::MAX_JSON_ANSWER) }),
            ),
    )
    .await;
    let client = IssuerClient::new(&base, Some(test_key())).expect("client");
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = capture(tmp.path());
    let err = client
        .issue_digests(&c.report_number, &c.provenance())
        .await
        .expect_err("409");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "two 503s retried");
    assert_eq!(err.active_token(), Some(current));

    let err = client.health().await.expect_err("502");
    assert_eq!(
        err.to_string(),
        format!("the issuer answered 502 to {base}/healthz: upstream failed")
    );
    let err = client.checkpoint().await.expect_err("too large");
    assert!(err.to_string().contains("larger than"), "{err}");

    // Nothing listening: unreachable, after the retries.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let client = IssuerClient::new(&format!("http://{closed}"), None).expect("client");
    let err = client.health().await.expect_err("refused");
    assert!(err.is_unreachable(), "{err}");
    assert!(
        err.to_string().starts_with("cannot reach the issuer at"),
        "{err}"
    );
}

#[tokio::test]
async fn hashing_a_file_streams_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path().join("big.bin");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&p, &data).expect("write");
    let h = hash_file(&p).await.expect("hash");
    assert_eq!(h.size, data.len() as u64);
    assert_eq!(h.sha256, Sha256Digest::of(&data));
    assert!(matches!(
        hash_file(&tmp.path().join("none")).await,
        Err(ClientError::File { .. })
    ));
}
