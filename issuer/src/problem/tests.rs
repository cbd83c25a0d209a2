use std::collections::HashSet;
use std::sync::LazyLock;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{DefaultBodyLimit, Multipart};
use axum::http::{Request, header};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::*;

static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let text = include_str!("../../../schemas/json/problem.schema.json");
    let schema: Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema builds")
});

/// Members a problem may have: RFC 9457's and our documented extensions.
const MEMBERS: &[&str] = &[
    "type",
    "title",
    "status",
    "detail",
    "instance",
    "field",
    "current_token",
    "limit",
];

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)] // fields are read through Debug and the extractor
struct Issue {
    report_number: String,
    stone: StoneIn,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StoneIn {
    weight_mct: u64,
    colour: String,
}

async fn issue(ApiJson(i): ApiJson<Issue>) -> ApiJson<Value> {
    ApiJson(json!({ "ok": i.report_number }))
}

async fn by_index(ApiPath(n): ApiPath<u64>) -> String {
    n.to_string()
}

#[derive(Debug, serde::Deserialize)]
struct Page {
    #[allow(dead_code)]
    limit: u32,
}

async fn page(ApiQuery(_): ApiQuery<Page>) -> &'static str {
    "ok"
}

async fn upload(mut m: Multipart) -> Result<String, ApiError> {
    let mut total = 0usize;
    while let Some(field) = m.next_field().await? {
        total += field.bytes().await?.len();
    }
    Ok(total.to_string())
}

async fn upload_checked(m: Result<Multipart, MultipartRejection>) -> Result<String, ApiError> {
    upload(m?).await
}

async fn boom() -> Result<(), ApiError> {
    Err(ApiError::internal(std::io::Error::other(
        "db password=hunter2 at /var/lib/secret",
    )))
}

fn app() -> Router {
    Router::new()
        .route("/issue", post(issue))
        .route("/entries/{n}", get(by_index))
        .route("/entries", get(page))
        .route("/upload", post(upload_checked))
        .route("/boom", get(boom))
        .fallback(not_found_fallback)
        .method_not_allowed_fallback(method_not_allowed_fallback)
        .layer(DefaultBodyLimit::max(256))
}

/// Sends `req`, checks the problem+json envelope, returns (status, body).
async fn problem(req: Request<Body>) -> (u16, Value, axum::http::HeaderMap) {
    let res = app().oneshot(req).await.expect("infallible");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    assert_eq!(
        headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(PROBLEM_JSON.as_bytes()),
        "content type for status {status}"
    );
    assert_eq!(
        headers.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let body = to_bytes(res.into_body(), 1 << 20).await.expect("body");
    let v: Value = serde_json::from_slice(&body).expect("problem body is JSON");
    check_shape(&v, status);
    (status, v, headers)
}

fn check_shape(v: &Value, status: u16) {
    if let Err(e) = SCHEMA.validate(v) {
        panic!("{v} does not match problem.schema.json: {e}");
    }
    let obj = v.as_object().expect("object");
    for k in obj.keys() {
        assert!(MEMBERS.contains(&k.as_str()), "undocumented member {k}");
    }
    assert_eq!(v["status"], status);
    let t = v["type"].as_str().expect("type");
    let slug = t
        .strip_prefix(PROBLEM_BASE)
        .expect("type under PROBLEM_BASE");
    let pt = ProblemType::ALL
        .iter()
        .find(|p| p.slug() == slug)
        .expect("known type");
    assert_eq!(pt.status().as_u16(), status);
    assert_eq!(v["title"], pt.title());
    assert!(
        v["detail"].is_string(),
        "every problem we send has a detail"
    );
}

fn json_post(body: &str) -> Request<Body> {
    Request::post("/issue")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

fn slug(v: &Value) -> &str {
    v["type"]
        .as_str()
        .and_then(|t| t.strip_prefix(PROBLEM_BASE))
        .expect("type")
}

#[tokio::test]
async fn good_json_passes() {
    let res = app()
        .oneshot(json_post(
            r#"{"report_number":"R-1","stone":{"weight_mct":1520,"colour":"red"}}"#,
        ))
        .await
        .expect("infallible");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn json_rejections_become_problems() {
    // (name, body, status, slug, field)
    let rows: &[(&str, &str, u16, &str, Option<&str>)] = &[
        ("syntax", r#"{"report_number":"#, 400, "bad-request", None),
        (
            "trailing",
            r#"{"report_number":"R","stone":{"weight_mct":1,"colour":"r"}} x"#,
            400,
            "bad-request",
            None,
        ),
        ("not json", "hello", 400, "bad-request", None),
        (
            "wrong type",
            r#"{"report_number":"R","stone":{"weight_mct":"heavy","colour":"r"}}"#,
            422,
            "validation",
            Some("stone.weight_mct"),
        ),
        (
            "negative",
            r#"{"report_number":"R","stone":{"weight_mct":-1,"colour":"r"}}"#,
            422,
            "validation",
            Some("stone.weight_mct"),
        ),
        (
            "missing top",
            r#"{"stone":{"weight_mct":1,"colour":"r"}}"#,
            422,
            "validation",
            Some("report_number"),
        ),
        (
            "missing nested",
            r#"{"report_number":"R","stone":{"weight_mct":1}}"#,
            422,
            "validation",
            Some("stone.colour"),
        ),
        (
            "unknown nested",
            r#"{"report_number":"R","stone":{"weight_mct":1,"colour":"r","x":1}}"#,
            422,
            "validation",
            Some("stone.x"),
        ),
        ("array", "[1,2]", 422, "validation", Some("[0]")),
        ("string", r#""R""#, 422, "validation", None),
    ];
    for (name, body, status, want_slug, field) in rows {
        let (s, v, _) = problem(json_post(body)).await;
        assert_eq!(s, *status, "row {name}: {v}");
        assert_eq!(slug(&v), *want_slug, "row {name}");
        assert_eq!(v["field"].as_str(), *field, "row {name}: {v}");
    }
}

#[tokio::test]
async fn missing_or_wrong_content_type_is_415() {
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = Request::post("/issue");
        if let Some(ct) = ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let req = req.body(Body::from("{}")).expect("request");
        let (s, v, _) = problem(req).await;
        assert_eq!((s, slug(&v)), (415, "unsupported-media-type"), "{ct:?}");
    }
}

#[tokio::test]
async fn oversize_json_is_413() {
    let big = format!(
        r#"{{"report_number":"{}","stone":{{"weight_mct":1,"colour":"r"}}}}"#,
        "R".repeat(1000)
    );
    let (s, v, _) = problem(json_post(&big)).await;
    assert_eq!((s, slug(&v)), (413, "payload-too-large"));
}

#[tokio::test]
async fn path_and_query_rejections_are_400() {
    let (s, v, _) = problem(
        Request::get("/entries/notanumber")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!((s, slug(&v)), (400, "bad-request"));
    assert!(
        v["detail"]
            .as_str()
            .is_some_and(|d| d.contains("notanumber"))
    );
    for uri in ["/entries?limit=lots", "/entries", "/entries?limit=-1"] {
        let (s, v, _) = problem(Request::get(uri).body(Body::empty()).expect("request")).await;
        assert_eq!((s, slug(&v)), (400, "bad-request"), "{uri}");
    }
}

#[tokio::test]
async fn multipart_rejections() {
    // No boundary: the extractor's rejection.
    let req = Request::post("/upload")
        .header(header::CONTENT_TYPE, "multipart/form-data")
        .body(Body::from("x"))
        .expect("request");
    let (s, v, _) = problem(req).await;
    assert_eq!((s, slug(&v)), (400, "bad-request"));

    // A part over the body limit.
    let body = format!(
        "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n{}\r\n--B--\r\n",
        "x".repeat(1000)
    );
    let req = Request::post("/upload")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
        .body(Body::from(body))
        .expect("request");
    let (s, v, _) = problem(req).await;
    assert_eq!((s, slug(&v)), (413, "payload-too-large"));

    // Truncated: no closing boundary.
    let req = Request::post("/upload")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
        .body(Body::from(
            "--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabc",
        ))
        .expect("request");
    let (s, v, _) = problem(req).await;
    assert_eq!((s, slug(&v)), (400, "bad-request"));
}

#[tokio::test]
async fn fallbacks_are_problems() {
    let (s, v, _) = problem(Request::get("/nope").body(Body::empty()).expect("r")).await;
    assert_eq!((s, slug(&v)), (404, "not-found"));
    let (s, v, _) = problem(Request::delete("/issue").body(Body::empty()).expect("r")).await;
    assert_eq!((s, slug(&v)), (405, "method-not-allowed"));
}

#[tokio::test]
async fn internal_errors_are_logged_not_returned() {
    let (s, v, _) = problem(Request::get("/boom").body(Body::empty()).expect("r")).await;
    assert_eq!((s, slug(&v)), (500, "internal"));
    let text = v.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("/var/lib"),
        "{text}"
    );
    assert_eq!(v["detail"], INTERNAL_DETAIL);
    let instance = v["instance"].as_str().expect("incident id");
    let uuid = instance.strip_prefix("urn:uuid:").expect("urn:uuid:");
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4", "version 4");
    // A fresh id each time.
    let (_, v2, _) = problem(Request::get("/boom").body(Body::empty()).expect("r")).await;
    assert_ne!(v["instance"], v2["instance"]);
}

#[tokio::test]
async fn every_variant_has_its_status_headers_and_shape() {
    let current: TokenId = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        .parse()
        .expect("id");
    let cases: Vec<(ApiError, Option<(header::HeaderName, &str)>)> = vec![
        (ApiError::bad_request("x"), None),
        (
            ApiError::validation("stone.colour", "field stone.colour is empty"),
            None,
        ),
        (
            ApiError::Unauthorized {
                detail: "no key".into(),
                invalid_token: false,
            },
            Some((header::WWW_AUTHENTICATE, r#"Bearer realm="loupe""#)),
        ),
        (
            ApiError::Unauthorized {
                detail: "bad key".into(),
                invalid_token: true,
            },
            Some((
                header::WWW_AUTHENTICATE,
                r#"Bearer realm="loupe", error="invalid_token""#,
            )),
        ),
        (ApiError::Forbidden { detail: "x".into() }, None),
        (ApiError::not_found("no such token"), None),
        (ApiError::MethodNotAllowed, None),
        (ApiError::NotAcceptable { detail: "x".into() }, None),
        (ApiError::conflict("x"), None),
        (
            ApiError::ActiveTokenExists {
                report_number: "LX-1".into(),
                current,
            },
            None,
        ),
        (ApiError::PayloadTooLarge { limit: Some(1024) }, None),
        (ApiError::PayloadTooLarge { limit: None }, None),
        (ApiError::UnsupportedMediaType { detail: "x".into() }, None),
        (
            ApiError::TooManyRequests {
                retry_after: Some(Duration::from_millis(1500)),
            },
            Some((header::RETRY_AFTER, "2")),
        ),
        (ApiError::TooManyRequests { retry_after: None }, None),
        (
            ApiError::Unavailable {
                detail: "draining".into(),
                retry_after: Some(Duration::ZERO),
            },
            Some((header::RETRY_AFTER, "1")),
        ),
        (ApiError::internal("boom"), None),
    ];
    let mut seen = HashSet::new();
    for (err, want_header) in cases {
        let label = format!("{err:?}");
        let pt = err.problem_type();
        seen.insert(pt);
        let res = err.into_response();
        let status = res.status().as_u16();
        assert_eq!(status, pt.status().as_u16(), "{label}");
        let headers = res.headers().clone();
        assert_eq!(
            headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(PROBLEM_JSON.as_bytes())
        );
        if let Some((name, value)) = want_header {
            assert_eq!(
                headers.get(&name).map(|v| v.as_bytes()),
                Some(value.as_bytes()),
                "{label}"
            );
        }
        let body = to_bytes(res.into_body(), 1 << 20).await.expect("body");
        let v: Value = serde_json::from_slice(&body).expect("JSON");
        check_shape(&v, status);
        // A client reads it back.
        let p: Problem = serde_json::from_value(v.clone()).expect("Problem");
        assert_eq!(p.status, status);
        if pt == ProblemType::ActiveTokenExists {
            assert_eq!(p.current_token, Some(current));
            assert_eq!(v["current_token"], current.to_string());
        }
        if pt == ProblemType::Validation {
            assert_eq!(p.field.as_deref(), Some("stone.colour"));
        }
        if let Some(limit) = p.limit {
            assert_eq!(limit, 1024);
        }
    }
    assert_eq!(seen.len(), ProblemType::ALL.len(), "every type covered");
}

#[test]
fn type_uris_are_unique_and_stable() {
    let uris: HashSet<String> = ProblemType::ALL.iter().map(|t| t.uri()).collect();
    assert_eq!(uris.len(), ProblemType::ALL.len());
    assert_eq!(
        ProblemType::ActiveTokenExists.uri(),
        "https://loupe.example/problems/active-token-exists"
    );
    for t in ProblemType::ALL {
        assert!(
            t.slug()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
        );
        assert!(t.status().is_client_error() || t.status().is_server_error());
    }
}

#[test]
fn claims_errors_map_to_validation_with_field() {
    let e: ApiError = ClaimsError::EmptyText {
        field: "stone.colour",
    }
    .into();
    let p = e.to_problem();
    assert_eq!(p.status, 422);
    assert_eq!(p.field.as_deref(), Some("stone.colour"));
    let e: ApiError = ClaimsError::UnknownImageRole { role: "top".into() }.into();
    assert_eq!(e.to_problem().field.as_deref(), Some("images[].role"));
}

#[test]
fn problems_from_other_servers_parse() {
    let p: Problem = serde_json::from_str(
        r#"{"type":"about:blank","title":"Not Found","status":404,"extra":[1]}"#,
    )
    .expect("lenient reader");
    assert_eq!(p.status, 404);
    assert_eq!(p.detail, None);
}
