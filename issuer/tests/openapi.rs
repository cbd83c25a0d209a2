//! The served OpenAPI document against the real server over loopback:
//! every route the router registers is documented with its method, every
//! documented operation is a real route, each answer's status, content
//! type and credential requirement are the documented ones, and the
//! bodies validate against the schemas the document declares for them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "store_support/mod.rs"]
mod store_support;

use std::collections::BTreeSet;

use loupe_issuer::app::Running;
use loupe_issuer::problem::NO_ROUTE_DETAIL;
use loupe_schemas::token::{Sha256Digest, TokenId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use store_support::TestDb;

/// The base the document is resolved against (it has no `$id`).
const DOC_BASE: &str = "urn:loupe:issuer:openapi";

struct Server {
    running: Running,
    key: String,
    http: reqwest::Client,
    doc: Value,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Self {
        let db = TestDb::sqlite();
        let dir = tempfile::tempdir().unwrap();
        let (running, key) = store_support::spawn_issuer(&db.url, &dir.path().join("media")).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = http
            .get(format!("{}/openapi.json", running.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/json");
        let doc: Value = r.json().await.unwrap();
        Self {
            running,
            key,
            http,
            doc,
            _db: db,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url)
    }

    async fn issue(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/tokens"))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, accept: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("accept", accept)
            .send()
            .await
            .unwrap()
    }
}

fn claims(report_number: &str) -> Value {
    let d = |s: &str| Sha256Digest::of(s.as_bytes()).to_string();
    json!({
        "report_number": report_number,
        "report": {"sha256": d("report"), "media_type": "application/pdf", "size": 1234},
        "images": [{"role": "face-up", "sha256": d("face-up"), "media_type": "image/jpeg", "size": 2000}],
        "stone": {
            "variety": "Ruby", "species": "Corundum", "weight_mct": 1520, "colour": "red",
            "shape": "oval", "cut": "mixed", "clarity": "VS", "dimensions_um": [7100, 5600, 3400],
            "treatment": "none"
        }
    })
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The documented response of `method path` for `status`: its JSON pointer
/// in the document (following a shared response's `$ref`), or `None` when
/// the status is not documented.
fn response_pointer(
    doc: &Value,
    method: &Method,
    path: &str,
    status: StatusCode,
) -> Option<String> {
    let op = format!(
        "/paths/{}/{}",
        escape(path),
        method.as_str().to_ascii_lowercase()
    );
    let pointer = format!("{op}/responses/{}", status.as_u16());
    let response = doc.pointer(&pointer)?;
    match response.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let shared = r.strip_prefix('#').expect("a local response");
            doc.pointer(shared).expect("the shared response exists");
            Some(shared.to_owned())
        }
        None => Some(pointer),
    }
}

/// The media type of a `Content-Type` value, without parameters.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A JSON pointer as a URI fragment: the braces of path templates are not
/// allowed there as they are (RFC 3986 §3.5).
fn fragment(pointer: &str) -> String {
    pointer.replace('{', "%7B").replace('}', "%7D")
}

/// Validates `instance` against the schema at `pointer` in `doc`, with
/// references resolved only inside the document (its fragments and the
/// `$id`s it embeds: nothing is fetched).
fn validate(doc: &Value, pointer: &str, instance: &Value) -> Result<(), String> {
    let mut registry = jsonschema::Registry::new()
        .add(DOC_BASE, doc.clone())
        .unwrap();
    for schema in doc["components"]["schemas"].as_object().unwrap().values() {
        if let Some(id) = schema.get("$id").and_then(Value::as_str) {
            registry = registry.add(id, schema.clone()).unwrap();
        }
    }
    let registry = registry.prepare().unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(&json!({ "$ref": format!("{DOC_BASE}#{}", fragment(pointer)) }))
        .map_err(|e| format!("the schema at {pointer} does not build: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Checks an answer against the document and returns its body: the status
/// is documented for the operation, the content type is one documented
/// for that status, and a JSON or text body validates against the schema
/// the document declares for it.
async fn check(
    doc: &Value,
    method: &Method,
    path: &str,
    r: reqwest::Response,
) -> (StatusCode, String, Vec<u8>) {
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = r.bytes().await.unwrap().to_vec();
    let what = format!("{method} {path} -> {status}");
    let Some(response) = response_pointer(doc, method, path, status) else {
        panic!(
            "{what}: status not documented ({})",
            String::from_utf8_lossy(&body)
        );
    };
    let declared = doc.pointer(&format!("{response}/content"));
    let media = match (&content_type, declared) {
        (None, None) => return (status, String::new(), body),
        (None, Some(_)) if body.is_empty() => return (status, String::new(), body),
        (Some(ct), Some(content)) => {
            let media = media_type(ct);
            assert!(
                content.get(&media).is_some(),
                "{what}: Content-Type {ct} is not documented (documented: {:?})",
                content.as_object().map(|c| c.keys().collect::<Vec<_>>())
            );
            media
        }
        (ct, content) => panic!("{what}: Content-Type {ct:?}, documented content {content:?}"),
    };
    let schema = format!("{response}/content/{}/schema", escape(&media));
    if doc.pointer(&schema).is_some() {
        let instance = if media.ends_with("json") {
            serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("{what}: the body is not JSON: {e}"))
        } else {
            Value::String(
                String::from_utf8(body.clone())
                    .unwrap_or_else(|_| panic!("{what}: {media} body is not UTF-8")),
            )
        };
        if let Err(e) = validate(doc, &schema, &instance) {
            panic!("{what}: the body does not match the documented schema: {e}\n{instance:#}");
        }
    }
    (status, media, body)
}

/// The (method, path) of every operation the document describes.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("responses").is_some() {
                ops.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_and_the_router_describe_the_same_routes() {
    let s = Server::start().await;
    assert_eq!(s.doc, loupe_issuer::api::openapi_document());
    assert_eq!(s.doc["openapi"], "3.1.0");
    let served: BTreeSet<(String, String)> = loupe_issuer::api::operations()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    assert_eq!(served, documented(&s.doc));

    // Issue a token with a file, so that every path parameter names
    // something that exists.
    let photo = b"\x89PNG\r\n\x1a\n a photo".to_vec();
    let form = reqwest::multipart::Form::new()
        .text(
            "claims",
            json!({"report_number": "PROBE-1", "stone": claims("x")["stone"]}).to_string(),
        )
        .part(
            "report",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 report".to_vec())
                .mime_str("application/pdf")
                .unwrap(),
        )
        .part(
            "face-up",
            reqwest::multipart::Part::bytes(photo.clone())
                .mime_str("image/png")
                .unwrap(),
        );
    let r = s
        .http
        .post(s.url("/v1/tokens"))
        .bearer_auth(&s.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, _, body) = check(&s.doc, &Method::POST, "/v1/tokens", r).await;
    assert_eq!(status, StatusCode::CREATED);
    let issued: Value = serde_json::from_slice(&body).unwrap();
    let id = issued["token_id"].as_str().unwrap().to_owned();
    let size = issued["leaf_index"].as_u64().unwrap() + 1;
    let sha = Sha256Digest::of(&photo).to_string();

    // Every documented operation, without credentials: a real route (not
    // the fallback 404, not 405), a documented status and content type,
    // and a 401 exactly where the document requires the lab credential.
    for (method, path) in documented(&s.doc) {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let url = path
            .replace("{id}", &id)
            .replace("{sha256}", &sha)
            .replace("{path}", &format!("0/000.p/{size}"));
        let url = if path == "/v1/consistency" {
            format!("{url}?old=1&new={size}")
        } else {
            url
        };
        let r = s
            .http
            .request(method.clone(), s.url(&url))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let what = format!("{method} {url}");
        assert_ne!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{what}");
        let (status, media, body) = check(&s.doc, &method, &path, r).await;
        if status == StatusCode::NOT_FOUND {
            let p: Value = serde_json::from_slice(&body).unwrap();
            assert_ne!(p["detail"], NO_ROUTE_DETAIL, "{what}: no route serves it");
        }
        let secured = s
            .doc
            .pointer(&format!(
                "/paths/{}/{}/security",
                escape(&path),
                method.as_str().to_ascii_lowercase()
            ))
            .is_some();
        if secured {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{what}: a write without a key"
            );
        } else {
            assert!(status.is_success(), "{what}: {status} {media}");
        }
    }

    // The checks can fail: a path no route serves is the fallback 404, a
    // method a route does not take is a 405, and neither is documented.
    let r = s.get("/v1/nothing-here", "application/json").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["detail"], NO_ROUTE_DETAIL);
    let r = s.http.delete(s.url("/checkpoint")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response_pointer(&s.doc, &Method::DELETE, "/checkpoint", r.status()).is_none());
    s.running.shutdown().await;
}

#[tokio::test]
async fn answers_validate_against_the_documented_schemas() {
    let s = Server::start().await;
    let doc = &s.doc;

    // 201: a token, then a second one to revoke and a third to supersede
    // the first.
    let r = s.issue(&claims("SCHEMA-1")).await;
    let (status, _, body) = check(doc, &Method::POST, "/v1/tokens", r).await;
    assert_eq!(status, StatusCode::CREATED);
    let first: Value = serde_json::from_slice(&body).unwrap();
    let first_id = first["token_id"].as_str().unwrap().to_owned();
    let r = s.issue(&claims("SCHEMA-2")).await;
    let (_, _, body) = check(doc, &Method::POST, "/v1/tokens", r).await;
    let second_id = serde_json::from_slice::<Value>(&body).unwrap()["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .http
        .post(s.url(&format!("/v1/tokens/{second_id}/revocations")))
        .bearer_auth(&s.key)
        .json(&json!({"reason": "report withdrawn"}))
        .send()
        .await
        .unwrap();
    let (status, _, _) = check(doc, &Method::POST, "/v1/tokens/{id}/revocations", r).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut newer = claims("SCHEMA-1");
    newer["supersedes"] = json!(first_id);
    let r = s.issue(&newer).await;
    let (status, _, _) = check(doc, &Method::POST, "/v1/tokens", r).await;
    assert_eq!(status, StatusCode::CREATED);

    // 409, 422, 400, 401, 415: problems, each with its extension members.
    let mut again = claims("SCHEMA-3");
    let r = s.issue(&again).await;
    check(doc, &Method::POST, "/v1/tokens", r).await;
    let r = s.issue(&again).await;
    let (status, media, body) = check(doc, &Method::POST, "/v1/tokens", r).await;
    assert_eq!(
        (status, media.as_str()),
        (StatusCode::CONFLICT, "application/problem+json")
    );
    assert!(serde_json::from_slice::<Value>(&body).unwrap()["current_token"].is_string());
    again["stone"]["weight_mct"] = json!(0);
    let r = s.issue(&again).await;
    let (status, _, body) = check(doc, &Method::POST, "/v1/tokens", r).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(serde_json::from_slice::<Value>(&body).unwrap()["field"].is_string());
    let r = s
        .http
        .post(s.url("/v1/tokens"))
        .bearer_auth(&s.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, _, _) = check(doc, &Method::POST, "/v1/tokens", r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let r = s
        .http
        .post(s.url("/v1/tokens"))
        .bearer_auth(&s.key)
        .header("content-type", "text/csv")
        .body("a,b")
        .send()
        .await
        .unwrap();
    let (status, _, _) = check(doc, &Method::POST, "/v1/tokens", r).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = s
        .http
        .post(s.url("/v1/tokens"))
        .bearer_auth("loupe_sk_not-a-key")
        .json(&claims("SCHEMA-4"))
        .send()
        .await
        .unwrap();
    let (status, _, _) = check(doc, &Method::POST, "/v1/tokens", r).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // 404: an unknown token, on each read about it.
    let unknown = TokenId([7; 32]).to_string();
    for path in [
        "/t/{id}",
        "/v1/tokens/{id}/status",
        "/v1/tokens/{id}/proof",
        "/v1/tokens/{id}/qr.svg",
    ] {
        let r = s
            .get(&path.replace("{id}", &unknown), "application/json")
            .await;
        let (status, media, _) = check(doc, &Method::GET, path, r).await;
        assert_eq!(
            (status, media.as_str()),
            (StatusCode::NOT_FOUND, "application/problem+json"),
            "{path}"
        );
    }

    // 200: statuses (active, revoked, superseded), the token as JSON and
    // as COSE, proofs (latest and at a stored checkpoint), the log.
    for (id, word) in [(&first_id, "superseded"), (&second_id, "revoked")] {
        let path = format!("/v1/tokens/{id}/status");
        let r = s.get(&path, "application/json").await;
        let (_, _, body) = check(doc, &Method::GET, "/v1/tokens/{id}/status", r).await;
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap()["status"],
            word
        );
        for accept in ["application/json", "application/cose", "text/html"] {
            let r = s.get(&format!("/t/{id}"), accept).await;
            let (status, _, _) = check(doc, &Method::GET, "/t/{id}", r).await;
            let expected = if accept == "text/html" {
                StatusCode::SEE_OTHER
            } else {
                StatusCode::OK
            };
            assert_eq!(status, expected, "{accept}");
        }
        let r = s.get(&format!("/v1/tokens/{id}/proof"), "text/plain").await;
        let (status, media, _) = check(doc, &Method::GET, "/v1/tokens/{id}/proof", r).await;
        assert_eq!((status, media.as_str()), (StatusCode::OK, "text/plain"));
    }
    let health = s.get("/healthz", "application/json").await;
    let (_, _, body) = check(doc, &Method::GET, "/healthz", health).await;
    let size = serde_json::from_slice::<Value>(&body).unwrap()["tree_size"]
        .as_u64()
        .unwrap();
    let r = s
        .get(
            &format!("/v1/tokens/{first_id}/proof?tree_size={size}"),
            "text/plain",
        )
        .await;
    let (status, _, _) = check(doc, &Method::GET, "/v1/tokens/{id}/proof", r).await;
    assert_eq!(status, StatusCode::OK);
    let r = s
        .get(
            &format!("/v1/consistency?old=1&new={size}"),
            "application/json",
        )
        .await;
    let (_, _, body) = check(doc, &Method::GET, "/v1/consistency", r).await;
    assert!(
        !serde_json::from_slice::<Value>(&body).unwrap()["path"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = s
        .get("/v1/consistency?old=5&new=3", "application/json")
        .await;
    let (status, _, _) = check(doc, &Method::GET, "/v1/consistency", r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for path in [
        "/.well-known/loupe-issuer",
        "/checkpoint",
        "/metrics",
        "/openapi.json",
    ] {
        let r = s.get(path, "*/*").await;
        let (status, _, _) = check(doc, &Method::GET, path, r).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }

    // The validation itself can fail: a 201 body with a member the schema
    // does not allow, and a problem without its `status`.
    let issued = "/paths/~1v1~1tokens/post/responses/201/content/application~1json/schema";
    let mut extra = first.clone();
    extra["unexpected"] = json!(true);
    assert!(validate(doc, issued, &first).is_ok());
    assert!(validate(doc, issued, &extra).is_err());
    let mut short_id = first.clone();
    short_id["token_id"] = json!("abc");
    assert!(
        validate(doc, issued, &short_id).is_err(),
        "the token_id $ref is followed"
    );
    let problem = "/components/schemas/Problem";
    assert!(
        validate(
            doc,
            problem,
            &json!({"type": "about:blank", "title": "x", "status": 404})
        )
        .is_ok()
    );
    assert!(validate(doc, problem, &json!({"type": "about:blank", "title": "x"})).is_err());
    assert!(
        validate(
            doc,
            problem,
            &json!({"type": "about:blank", "title": "x", "status": 404, "limit": "big"})
        )
        .is_err()
    );
    s.running.shutdown().await;
}
