//! The issuer's HTTP API end to end over loopback, on SQLite and (when
//! `LOUPE_TEST_POSTGRES_URL` is set) PostgreSQL: a real server, a real HTTP
//! client, and every answer checked with `loupe-schemas`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "store_support/mod.rs"]
mod store_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use loupe_issuer::apikey::ApiKey;
use loupe_issuer::app::Running;
use loupe_schemas::bundle::{LogPolicy, ProofBundle};
use loupe_schemas::checkpoint::NoteVerifier;
use loupe_schemas::merkle::{leaf_hash, verify_consistency};
use loupe_schemas::token::{Sha256Digest, Token, TokenId};
use reqwest::StatusCode;
use serde_json::{Value, json};
use store_support::TestDb;

const ISSUER: &str = "lab.example";
const ORIGIN: &str = "lab.example/log";

fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-example")
}

fn issuer_public() -> VerifyingKey {
    VerifyingKey::from_public_key_pem(
        &std::fs::read_to_string(keys_dir().join("issuer.pub.pem")).unwrap(),
    )
    .unwrap()
}

fn policy() -> LogPolicy {
    let vkey = std::fs::read_to_string(keys_dir().join("log.vkey")).unwrap();
    LogPolicy::new(ORIGIN, NoteVerifier::from_vkey(vkey.trim()).unwrap())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Server {
    running: Option<Running>,
    base: String,
    key: String,
    http: reqwest::Client,
    db: TestDb,
    /// The server's media directory.
    media: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(db: TestDb) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (running, key) = store_support::spawn_issuer(&db.url, &dir.path().join("media")).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base: running.base_url.clone(),
            running: Some(running),
            key,
            http,
            db,
            media: dir.path().join("media"),
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn post_multipart(&self, form: reqwest::multipart::Form) -> reqwest::Response {
        self.http
            .post(self.url("/v1/tokens"))
            .bearer_auth(&self.key)
            .multipart(form)
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

    async fn tree_size(&self) -> u64 {
        let v: Value = self
            .get("/healthz", "application/json")
            .await
            .json()
            .await
            .unwrap();
        v["tree_size"].as_u64().unwrap()
    }

    async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

fn claims(report_number: &str) -> Value {
    let d = |s: &str| Sha256Digest::of(s.as_bytes()).to_string();
    json!({
        "report_number": report_number,
        "report": {"sha256": d("report"), "media_type": "application/pdf", "size": 1234},
        "images": [
            {"role": "face-up", "sha256": d("face-up"), "media_type": "image/jpeg", "size": 2000},
            {"role": "swatch", "sha256": d("swatch"), "media_type": "image/jpeg", "size": 2100}
        ],
        "videos": [{"role": "light-play", "sha256": d("video"), "media_type": "video/mp4", "size": 99999}],
        "stone": {
            "variety": "Ruby", "species": "Corundum", "weight_mct": 1520, "colour": "pigeon's blood",
            "shape": "oval", "cut": "mixed", "clarity": "VS", "dimensions_um": [7100, 5600, 3400],
            "treatment": "none", "origin": "Myanmar"
        }
    })
}

/// Issues a token and checks the answer completely: token signature, URL,
/// proof bundle against the log key.
async fn issue(server: &Server, body: &Value) -> (TokenId, Value) {
    let resp = server.post_json("/v1/tokens", body).await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{:?}",
        resp.text().await
    );
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let v: Value = resp.json().await.unwrap();
    let bytes = STANDARD.decode(v["token"].as_str().unwrap()).unwrap();
    let token = Token::parse(&bytes).unwrap();
    let verified = token.verify(&issuer_public()).unwrap();
    assert_eq!(verified.claims().iss, ISSUER);
    assert_eq!(
        verified.claims().sub,
        body["report_number"].as_str().unwrap()
    );
    let id = token.id();
    assert_eq!(v["token_id"], id.to_string());
    assert_eq!(v["url"], format!("https://lab.example/t/{id}"));
    assert_eq!(location, format!("/t/{id}"));
    let bundle = ProofBundle::parse(v["proof"].as_str().unwrap().as_bytes()).unwrap();
    let inc = bundle
        .verify(token.logged_bytes(), &policy(), now())
        .unwrap();
    assert_eq!(inc.leaf_index(), v["leaf_index"].as_u64().unwrap());
    (id, v)
}

#[tokio::test]
async fn issue_read_prove_revoke_supersede() {
    for db in TestDb::all().await {
        let s = Server::start(db).await;
        let (id, _) = issue(&s, &claims("LX-1")).await;
        let (other, _) = issue(&s, &claims("LX-2")).await;

        // GET /t/{id}: COSE for machines, identical bytes, immutable.
        let r = s.get(&format!("/t/{id}"), "application/cose").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/cose")
        );
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let bytes = r.bytes().await.unwrap();
        assert_eq!(
            TokenId::of_logged_bytes(&bytes),
            id,
            "the served token is the one the URL names"
        );
        // JSON: decoded claims, status and a proof that verifies.
        let v: Value = s
            .get(&format!("/t/{id}"), "application/json")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["token"]["id"], id.to_string());
        assert_eq!(v["token"]["claims"]["sub"], "LX-1");
        assert_eq!(v["token"]["provenance"]["stone"]["variety"], "Ruby");
        assert_eq!(v["status"]["status"], "active");
        let bundle = ProofBundle::parse(v["proof"].as_str().unwrap().as_bytes()).unwrap();
        bundle.verify(&bytes, &policy(), now()).unwrap();
        // A browser: redirected to the verification page for this URL.
        let r = s
            .get(
                &format!("/t/{id}"),
                "text/html,application/xhtml+xml,*/*;q=0.8",
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let to = r.headers()["location"].to_str().unwrap();
        assert_eq!(
            to,
            format!("https://verify.example/verify?url=https%3A%2F%2Flab.example%2Ft%2F{id}")
        );

        // The proof endpoint at the latest checkpoint and at an older one.
        let text = s
            .get(&format!("/v1/tokens/{id}/proof"), "*/*")
            .await
            .text()
            .await
            .unwrap();
        ProofBundle::parse(text.as_bytes())
            .unwrap()
            .verify(&bytes, &policy(), now())
            .unwrap();
        // At an older checkpoint: the one the issuance answer carried.
        let r = s
            .get(&format!("/v1/tokens/{id}/proof?tree_size=999"), "*/*")
            .await;
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "no checkpoint of that size"
        );

        // One stone, one active token: a second token for LX-1 is refused…
        let r = s.post_json("/v1/tokens", &claims("LX-1")).await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().await.unwrap();
        assert_eq!(
            p["type"],
            "https://loupe.example/problems/active-token-exists"
        );
        assert_eq!(p["current_token"], id.to_string());
        // …unless it supersedes the current one (re-photography).
        let mut again = claims("LX-1");
        again["supersedes"] = json!(id.to_string());
        again["stone"]["weight_mct"] = json!(1518);
        let (newer, _) = issue(&s, &again).await;
        let st: Value = s
            .get(&format!("/v1/tokens/{id}/status"), "application/json")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(st["status"], "superseded");
        assert_eq!(st["superseded_by"]["id"], newer.to_string());
        let sup_bytes = STANDARD
            .decode(st["superseded_by"]["statement"].as_str().unwrap())
            .unwrap();
        ProofBundle::parse(st["superseded_by"]["proof"].as_str().unwrap().as_bytes())
            .unwrap()
            .verify(&sup_bytes, &policy(), now())
            .unwrap();

        // Revoke the other stone's token: status says so, with a proof of the revocation.
        let r = s
            .post_json(
                &format!("/v1/tokens/{other}/revocations"),
                &json!({"reason": "report withdrawn"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let rv: Value = r.json().await.unwrap();
        assert_eq!(rv["revokes"], other.to_string());
        let st: Value = s
            .get(&format!("/v1/tokens/{other}/status"), "application/json")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(st["status"], "revoked");
        assert_eq!(st["revoked_by"]["reason"], "report withdrawn");
        let rev_bytes = STANDARD
            .decode(st["revoked_by"]["statement"].as_str().unwrap())
            .unwrap();
        let rev = loupe_schemas::token::SignedRevocation::parse(&rev_bytes).unwrap();
        rev.verify(&issuer_public()).unwrap();
        assert_eq!(rev.revokes(), other);
        ProofBundle::parse(st["revoked_by"]["proof"].as_str().unwrap().as_bytes())
            .unwrap()
            .verify(&rev_bytes, &policy(), now())
            .unwrap();
        // Revoking twice, or an unknown token, is refused.
        let r = s
            .post_json(
                &format!("/v1/tokens/{other}/revocations"),
                &json!({"reason": "again"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let unknown = TokenId([7; 32]);
        let r = s
            .post_json(
                &format!("/v1/tokens/{unknown}/revocations"),
                &json!({"reason": "x"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // QR code: a PNG that an independent decoder reads as the token URL.
        let r = s.get(&format!("/v1/tokens/{id}/qr.png"), "image/png").await;
        assert_eq!(r.status(), StatusCode::OK);
        let png = r.bytes().await.unwrap();
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, format!("https://lab.example/t/{id}"));
        let svg = s
            .get(&format!("/v1/tokens/{id}/qr.svg"), "image/svg+xml")
            .await
            .text()
            .await
            .unwrap();
        assert!(svg.contains("<svg"));

        s.stop().await;
    }
}

#[tokio::test]
async fn log_reads_checkpoint_consistency_and_tiles() {
    for db in TestDb::all().await {
        let s = Server::start(db).await;
        let cp1 = s
            .get("/checkpoint", "text/plain")
            .await
            .text()
            .await
            .unwrap();
        let (size1, root1) = open(&cp1);
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(issue(&s, &claims(&format!("TILE-{i}"))).await.0);
        }
        let cp2 = s
            .get("/checkpoint", "text/plain")
            .await
            .text()
            .await
            .unwrap();
        let (size2, root2) = open(&cp2);
        assert_eq!(size2, size1 + 5);
        let v: Value = s
            .get(
                &format!("/v1/consistency?old={size1}&new={size2}"),
                "application/json",
            )
            .await
            .json()
            .await
            .unwrap();
        let path: Vec<[u8; 32]> = v["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                STANDARD
                    .decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        verify_consistency(size1, size2, &path, &root1, &root2).unwrap();
        assert_eq!(
            s.get("/v1/consistency?old=5&new=3", "*/*").await.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            s.get("/v1/consistency?old=0&new=99999", "*/*")
                .await
                .status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            s.get("/v1/consistency?old=x&new=3", "*/*").await.status(),
            StatusCode::BAD_REQUEST
        );

        // Tiles: the level-0 partial tile holds the leaf hashes; the entry
        // bundle holds the entries; both as C2SP lays them out.
        let w = size2;
        let tile = s.get(&format!("/tile/0/000.p/{w}"), "*/*").await;
        assert_eq!(tile.status(), StatusCode::OK);
        let hashes =
            loupe_schemas::tiles::decode_hash_tile(&tile.bytes().await.unwrap(), w as u16).unwrap();
        let bundle = s
            .get(&format!("/tile/entries/000.p/{w}"), "*/*")
            .await
            .bytes()
            .await
            .unwrap();
        let entries = loupe_schemas::tiles::decode_entry_bundle(&bundle, w as u16).unwrap();
        for (h, e) in hashes.iter().zip(&entries) {
            assert_eq!(*h, leaf_hash(e));
        }
        assert_eq!(
            loupe_schemas::merkle::root_from_leaf_hashes(&hashes),
            root2,
            "the tile's leaves make the checkpoint's root"
        );
        for bad in [
            "/tile/0/000.p/0",
            "/tile/0/001",
            "/tile/../etc/passwd",
            "/tile/0/x1/000",
            "/tile/9/000",
        ] {
            let r = s.get(bad, "*/*").await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
            assert_eq!(
                r.headers()["content-type"],
                "application/problem+json",
                "{bad}"
            );
        }
        s.stop().await;
    }
}

fn open(note: &str) -> (u64, [u8; 32]) {
    let cp = loupe_schemas::checkpoint::open_checkpoint(
        note.as_bytes(),
        ORIGIN,
        &policy().log,
        &[],
        0,
        now(),
    )
    .unwrap();
    (cp.size(), *cp.root_hash())
}

#[tokio::test]
async fn multipart_upload_hashes_stores_and_serves_the_files() {
    let s = Server::start(TestDb::sqlite()).await;
    let capture = tempfile::tempdir().unwrap();
    let sample = loupe_issuer::sample::write_sample_capture(capture.path(), 0).unwrap();
    let mut form = reqwest::multipart::Form::new().text(
        "claims",
        json!({"report_number": "MP-1", "stone": serde_json::to_value(sample.provenance().stone).unwrap()}).to_string(),
    );
    let mut files = Vec::new();
    for entry in std::fs::read_dir(capture.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some((role, media_type)) = loupe_issuer::sample::CaptureRole::from_file_name(&name)
        else {
            continue;
        };
        let bytes = std::fs::read(&path).unwrap();
        let part_name = part_name(role);
        files.push((part_name.clone(), bytes.clone()));
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name)
            .mime_str(media_type)
            .unwrap();
        form = form.part(part_name, part);
    }
    assert_eq!(files.len(), 8, "report, six photos, one video");
    let r = s
        .http
        .post(s.url("/v1/tokens"))
        .bearer_auth(&s.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let v: Value = r.json().await.unwrap();
    let token = Token::parse(&STANDARD.decode(v["token"].as_str().unwrap()).unwrap()).unwrap();
    let p = token.provenance();
    assert_eq!(p.images.len(), 6);
    assert_eq!(p.videos.len(), 1);
    for (role, bytes) in &files {
        let digest = Sha256Digest::of(bytes);
        let certified = if role == "report" {
            p.report.sha256
        } else if role == "light-play" {
            p.videos[0].sha256
        } else {
            p.images
                .iter()
                .find(|i| i.role.to_string() == *role)
                .unwrap()
                .sha256
        };
        assert_eq!(certified, digest, "{role}");
        let served = s.get(&format!("/media/{digest}"), "*/*").await;
        assert_eq!(served.status(), StatusCode::OK);
        assert!(
            served.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert_eq!(served.bytes().await.unwrap().to_vec(), *bytes, "{role}");
    }
    assert_eq!(
        s.get(&format!("/media/{}", "0".repeat(64)), "*/*")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get("/media/..%2F..%2Fetc%2Fpasswd", "*/*").await.status(),
        StatusCode::NOT_FOUND
    );
    s.stop().await;
}

/// The multipart part name of a capture file: `report` or the role name.
fn part_name(role: loupe_issuer::sample::CaptureRole) -> String {
    use loupe_issuer::sample::CaptureRole;
    use loupe_schemas::token::MediaRole as _;
    match role {
        CaptureRole::Report => "report".into(),
        CaptureRole::Image(r) => r.as_str().into(),
        CaptureRole::Video(r) => r.as_str().into(),
    }
}

#[tokio::test]
async fn bad_input_gets_a_problem_and_changes_nothing() {
    for db in TestDb::all().await {
        let s = Server::start(db).await;
        issue(&s, &claims("KEEP-1")).await;
        let size = s.tree_size().await;
        let entries = s.db.count("entries").await;

        let d = Sha256Digest::of(b"x").to_string();
        let mut wrong_type = claims("B-1");
        wrong_type["stone"]["weight_mct"] = json!("heavy");
        let mut bad_hash = claims("B-2");
        bad_hash["report"]["sha256"] = json!(&d[..63]);
        let mut unknown_role = claims("B-3");
        unknown_role["images"][0]["role"] = json!("top-down");
        let mut unknown_field = claims("B-4");
        unknown_field["owner_name"] = json!("Jane Doe");
        let mut dup_role = claims("B-5");
        dup_role["images"][1]["role"] = json!("face-up");
        let mut zero = claims("B-6");
        zero["stone"]["weight_mct"] = json!(0);
        let mut missing = claims("B-7");
        missing["stone"].as_object_mut().unwrap().remove("variety");
        let rows: Vec<(&str, reqwest::RequestBuilder, StatusCode, &str)> = vec![
            (
                "malformed JSON",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .header("content-type", "application/json")
                    .body("{\"report_number\": "),
                StatusCode::BAD_REQUEST,
                "bad-request",
            ),
            (
                "duplicate key",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .header("content-type", "application/json")
                    .body(r#"{"report_number":"a","report_number":"b"}"#),
                StatusCode::BAD_REQUEST,
                "bad-request",
            ),
            (
                "wrong type",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .json(&wrong_type),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                "bad hash",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .json(&bad_hash),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                "unknown role",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .json(&unknown_role),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                "unknown field (personal data)",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .json(&unknown_field),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                "duplicate role",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .json(&dup_role),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                "zero weight",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .json(&zero),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                "missing field",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .json(&missing),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                "oversize body",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .header("content-type", "application/json")
                    .body(vec![b' '; 200_000]),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
            ),
            (
                "wrong content type",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(&s.key)
                    .header("content-type", "text/csv")
                    .body("a,b"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
            ),
            (
                "no credentials",
                s.http.post(s.url("/v1/tokens")).json(&claims("B-8")),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            ),
            (
                "unknown key",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth(ApiKey::generate().0.expose_secret())
                    .json(&claims("B-9")),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            ),
            (
                "malformed key",
                s.http
                    .post(s.url("/v1/tokens"))
                    .bearer_auth("hunter2")
                    .json(&claims("B-10")),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            ),
            (
                "revocation without key",
                s.http
                    .post(s.url(&format!("/v1/tokens/{}/revocations", TokenId([1; 32]))))
                    .json(&json!({"reason": "x"})),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            ),
            (
                "revocation, bad body",
                s.http
                    .post(s.url(&format!("/v1/tokens/{}/revocations", TokenId([1; 32]))))
                    .bearer_auth(&s.key)
                    .json(&json!({"why": "x"})),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                "unknown token id",
                s.http.get(s.url(&format!("/t/{}", TokenId([9; 32])))),
                StatusCode::NOT_FOUND,
                "not-found",
            ),
            (
                "malformed token id",
                s.http.get(s.url("/t/not-a-token")),
                StatusCode::NOT_FOUND,
                "not-found",
            ),
            (
                "unknown status",
                s.http
                    .get(s.url(&format!("/v1/tokens/{}/status", TokenId([9; 32])))),
                StatusCode::NOT_FOUND,
                "not-found",
            ),
            (
                "unknown route",
                s.http.get(s.url("/v2/whatever")),
                StatusCode::NOT_FOUND,
                "not-found",
            ),
            (
                "wrong method",
                s.http.delete(s.url("/v1/tokens")),
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
            ),
            (
                "proof, bad query",
                s.http.get(s.url(&format!(
                    "/v1/tokens/{}/proof?tree_size=-1",
                    TokenId([9; 32])
                ))),
                StatusCode::BAD_REQUEST,
                "bad-request",
            ),
        ];
        for (name, req, status, slug) in rows {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), status, "row {name:?} on {}", s.db.name);
            assert_eq!(
                r.headers()["content-type"],
                "application/problem+json",
                "row {name:?}"
            );
            let p: Value = r.json().await.unwrap();
            assert_eq!(
                p["type"],
                format!("https://loupe.example/problems/{slug}"),
                "row {name:?}: {p}"
            );
            assert_eq!(p["status"], status.as_u16(), "row {name:?}");
            assert!(p["title"].is_string(), "row {name:?}");
        }
        assert_eq!(
            s.tree_size().await,
            size,
            "bad input changed the log on {}",
            s.db.name
        );
        assert_eq!(s.db.count("entries").await, entries);
        s.stop().await;
    }
}

#[tokio::test]
async fn concurrent_issuance_and_metrics() {
    let s = Server::start(TestDb::sqlite()).await;
    let start = s.tree_size().await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let http = s.http.clone();
        let url = s.url("/v1/tokens");
        let key = s.key.clone();
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(key)
                .json(&claims(&format!("C-{i}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let v: Value = r.json().await.unwrap();
            v["leaf_index"].as_u64().unwrap()
        }));
    }
    let mut indexes = Vec::new();
    for t in tasks {
        indexes.push(t.await.unwrap());
    }
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), 64, "every token has its own leaf");
    assert_eq!(s.tree_size().await, start + 64);
    let m = s.get("/metrics", "text/plain").await.text().await.unwrap();
    assert!(m.contains("loupe_tokens_issued_total 64\n"), "{m}");
    assert!(m.contains(&format!("loupe_tree_size {}\n", start + 64)));
    // A lone instance sequences the log, on either back end.
    assert!(m.contains("\nloupe_sequencer_leader 1\n"), "{m}");
    assert!(m.contains("loupe_write_seconds_count 64\n"));
    // The sequencer's batches: every entry it wrote is in one of them.
    let value = |name: &str| -> f64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {m}"))
    };
    let batches = value("loupe_batch_entries_count");
    assert!((1.0..=64.0).contains(&batches), "{batches} batches");
    #[allow(clippy::cast_precision_loss)]
    let logged = (start + 64) as f64;
    assert_eq!(value("loupe_batch_entries_sum"), logged, "{m}");
    assert_eq!(value("loupe_batch_commit_seconds_count"), batches);
    assert_eq!(value("loupe_batch_entries_bucket{le=\"+Inf\"}"), batches);
    assert_eq!(value("loupe_batches_failed_total"), 0.0);
    // `GET /openapi.json` against the routes and the answers: tests/openapi.rs.
    s.stop().await;
}

#[tokio::test]
async fn multipart_files_are_bounded_by_the_upload_limit_not_the_json_limit() {
    // The test server allows 64 KiB of JSON and 1 MiB per file.
    let s = Server::start(TestDb::sqlite()).await;
    let stone = json!({
        "variety": "Ruby", "species": "Corundum", "weight_mct": 1520, "colour": "red", "shape": "oval",
        "cut": "mixed", "clarity": "VS", "dimensions_um": [7100, 5600, 3400], "treatment": "none"
    });
    let form = |report_number: &str, photo: Vec<u8>| {
        reqwest::multipart::Form::new()
            .text(
                "claims",
                json!({"report_number": report_number, "stone": stone}).to_string(),
            )
            .part(
                "report",
                reqwest::multipart::Part::bytes(b"%PDF-1.4 report".to_vec())
                    .mime_str("application/pdf")
                    .unwrap(),
            )
            .part(
                "face-up",
                reqwest::multipart::Part::bytes(photo)
                    .mime_str("image/jpeg")
                    .unwrap(),
            )
    };
    // A 600 KiB photo: above the JSON limit, within the upload limit.
    let photo = vec![0xa5u8; 600 * 1024];
    let r = s
        .http
        .post(s.url("/v1/tokens"))
        .bearer_auth(&s.key)
        .multipart(form("BIG-1", photo.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let served = s
        .get(&format!("/media/{}", Sha256Digest::of(&photo)), "*/*")
        .await;
    assert_eq!(served.bytes().await.unwrap().len(), photo.len());
    // A 1.5 MiB photo: above the upload limit, refused, nothing logged.
    let size = s.tree_size().await;
    let r = s
        .http
        .post(s.url("/v1/tokens"))
        .bearer_auth(&s.key)
        .multipart(form("BIG-2", vec![0x5a; 1536 * 1024]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // An oversize claims part: refused as well.
    let huge = reqwest::multipart::Form::new().text("claims", " ".repeat(100 * 1024));
    let r = s
        .http
        .post(s.url("/v1/tokens"))
        .bearer_auth(&s.key)
        .multipart(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(s.tree_size().await, size);
    s.stop().await;
}

// ---------------------------------------------------------------------------
// Refused multipart requests and the media directory.

/// Everything under the media directory — shard directories, stored files,
/// temporary files — with each file's size and mode.
fn media_listing(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                out.push(format!("{name}/"));
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(format!(
                    "{name} {} bytes, mode {:o}",
                    meta.len(),
                    mode(&meta)
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

#[cfg(unix)]
fn mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode(_: &std::fs::Metadata) -> u32 {
    0
}

fn ruby() -> Value {
    json!({
        "variety": "Ruby", "species": "Corundum", "weight_mct": 1520, "colour": "red", "shape": "oval",
        "cut": "mixed", "clarity": "VS", "dimensions_um": [7100, 5600, 3400], "treatment": "none"
    })
}

fn file_part(bytes: &[u8], media_type: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes.to_vec())
        .mime_str(media_type)
        .unwrap()
}

/// A capture form: `files` (part name, bytes, media type) in order, then the
/// `claims` part if given.
fn capture_form(files: &[(&str, &[u8], &str)], claims: Option<String>) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes, media_type) in files {
        form = form.part(name.to_string(), file_part(bytes, media_type));
    }
    if let Some(claims) = claims {
        form = form.text("claims", claims);
    }
    form
}

fn claims_for(report_number: &str) -> String {
    json!({"report_number": report_number, "stone": ruby()}).to_string()
}

/// Bytes no earlier request stored.
fn fresh(tag: &str, len: usize) -> Vec<u8> {
    let mut b = format!("{tag} {}\n", hex::encode(rand::random::<[u8; 16]>())).into_bytes();
    b.resize(len.max(b.len()), b'.');
    b
}

/// Waits (up to 10 s) until the media directory lists as `want` (a refused
/// request cleans up after its answer when the client went away first).
async fn wait_for_listing(media: &Path, want: &[String], what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = media_listing(media);
        if now == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: the media directory changed:\nbefore {want:#?}\nafter {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a multipart body that stops after its first (complete) file part,
/// in the middle of the second, then closes the connection.
async fn send_truncated_upload(s: &Server, report: &[u8]) {
    use tokio::io::AsyncWriteExt as _;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut body = Vec::new();
    body.extend_from_slice(b"--XB\r\nContent-Disposition: form-data; name=\"report\"; filename=\"r.pdf\"\r\nContent-Type: application/pdf\r\n\r\n");
    body.extend_from_slice(report);
    body.extend_from_slice(b"\r\n--XB\r\nContent-Disposition: form-data; name=\"face-up\"; filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n");
    body.extend_from_slice(&[0x5a; 4096]);
    let head = format!(
        "POST /v1/tokens HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary=XB\r\nContent-Length: {}\r\n\r\n",
        s.key,
        body.len() + 100_000
    );
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body).await.unwrap();
    conn.flush().await.unwrap();
    // Let the server store the report before the connection goes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(conn);
}

#[tokio::test]
async fn refused_multipart_requests_leave_the_media_directory_unchanged() {
    for db in TestDb::all().await {
        let s = Server::start(db).await;
        let name = s.db.name;
        // One accepted capture first: the directory is not empty, and the
        // files of an accepted request are kept (mode 0644).
        let r = s
            .post_multipart(capture_form(
                &[
                    ("report", &fresh("report KEEP", 2000), "application/pdf"),
                    ("face-up", &fresh("photo KEEP", 3000), "image/jpeg"),
                ],
                Some(claims_for("KEEP-M")),
            ))
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{name}: {:?}",
            r.text().await
        );
        let before = media_listing(&s.media);
        assert_eq!(
            before.iter().filter(|l| l.contains(" bytes")).count(),
            2,
            "{before:?}"
        );
        #[cfg(unix)]
        assert!(
            before
                .iter()
                .filter(|l| l.contains(" bytes"))
                .all(|l| l.ends_with("mode 644")),
            "{before:?}"
        );
        let size = s.tree_size().await;

        let (report, photo) = (fresh("report", 5000), fresh("photo", 7000));
        let too_big = vec![0x5au8; 1536 * 1024];
        let mut zero = ruby();
        zero["weight_mct"] = json!(0);
        let same = fresh("report and photo alike", 4000);
        let rows: Vec<(&str, reqwest::multipart::Form, StatusCode)> = vec![
            (
                "claims that are not JSON, after the files",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                    ],
                    Some("{".into()),
                ),
                StatusCode::BAD_REQUEST,
            ),
            (
                "claims with a repeated member",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                    ],
                    Some(r#"{"report_number":"R-1","report_number":"R-2","stone":{}}"#.into()),
                ),
                StatusCode::BAD_REQUEST,
            ),
            (
                "no claims part",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                    ],
                    None,
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "no report",
                capture_form(
                    &[("face-up", &photo, "image/jpeg")],
                    Some(claims_for("R-3")),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "a stone that does not validate",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                    ],
                    Some(json!({"report_number": "R-4", "stone": zero}).to_string()),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "a role twice",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                        ("face-up", b"another face-up", "image/jpeg"),
                    ],
                    Some(claims_for("R-5")),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "an unknown part after the files",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                        ("top-down", b"?", "image/jpeg"),
                    ],
                    Some(claims_for("R-6")),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "a later part without its media type",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                        ("table", b"table photo", "application/octet-stream"),
                    ],
                    Some(claims_for("R-7")),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "an oversize later part",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                        ("table", &too_big, "image/jpeg"),
                    ],
                    Some(claims_for("R-8")),
                ),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                "one new file as report and photo",
                capture_form(
                    &[
                        ("report", &same, "application/pdf"),
                        ("face-up", &same, "image/jpeg"),
                    ],
                    Some("[]".into()),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "refused by the log: the report number has an active token",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                    ],
                    Some(claims_for("KEEP-M")),
                ),
                StatusCode::CONFLICT,
            ),
        ];
        for (what, form, status) in rows {
            let r = s.post_multipart(form).await;
            assert_eq!(r.status(), status, "{name}, {what}: {:?}", r.text().await);
            wait_for_listing(&s.media, &before, &format!("{name}, {what}")).await;
        }

        // A client that goes away in the middle of its second file.
        send_truncated_upload(&s, &fresh("report of a lost upload", 6000)).await;
        wait_for_listing(&s.media, &before, &format!("{name}, truncated upload")).await;

        assert_eq!(s.tree_size().await, size, "{name}: nothing logged");
        assert_eq!(
            s.get(&format!("/media/{}", Sha256Digest::of(&report)), "*/*")
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        // The same files, with claims that are fine: accepted and kept.
        let r = s
            .post_multipart(capture_form(
                &[
                    ("report", &report, "application/pdf"),
                    ("face-up", &photo, "image/jpeg"),
                ],
                Some(claims_for("R-9")),
            ))
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{name}: {:?}",
            r.text().await
        );
        let served = s
            .get(&format!("/media/{}", Sha256Digest::of(&photo)), "*/*")
            .await;
        assert_eq!(served.bytes().await.unwrap().to_vec(), photo, "{name}");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_refused_request_keeps_the_files_an_accepted_token_stored() {
    for db in TestDb::all().await {
        let s = Server::start(db).await;
        let name = s.db.name;
        let (report, photo) = (fresh("report ACC", 3000), fresh("photo ACC", 5000));
        let r = s
            .post_multipart(capture_form(
                &[
                    ("report", &report, "application/pdf"),
                    ("face-up", &photo, "image/jpeg"),
                ],
                Some(claims_for("ACC-1")),
            ))
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{name}: {:?}",
            r.text().await
        );
        let before = media_listing(&s.media);
        let newer = fresh("a new swatch", 1000);
        let rows: Vec<(&str, reqwest::multipart::Form, StatusCode)> = vec![
            (
                "the accepted token's files and a new one, then bad claims",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                        ("swatch", &newer, "image/jpeg"),
                    ],
                    Some("not json".into()),
                ),
                StatusCode::BAD_REQUEST,
            ),
            (
                "the accepted token's photo in a capture the log refuses",
                capture_form(
                    &[
                        ("report", &newer, "application/pdf"),
                        ("face-up", &photo, "image/jpeg"),
                    ],
                    Some(claims_for("ACC-1")),
                ),
                StatusCode::CONFLICT,
            ),
            (
                "the accepted token's report, then an oversize part",
                capture_form(
                    &[
                        ("report", &report, "application/pdf"),
                        ("face-up", &vec![0x11u8; 1536 * 1024], "image/jpeg"),
                    ],
                    Some(claims_for("ACC-2")),
                ),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
        ];
        for (what, form, status) in rows {
            let r = s.post_multipart(form).await;
            assert_eq!(r.status(), status, "{name}, {what}: {:?}", r.text().await);
            wait_for_listing(&s.media, &before, &format!("{name}, {what}")).await;
            for bytes in [&report, &photo] {
                let served = s
                    .get(&format!("/media/{}", Sha256Digest::of(bytes)), "*/*")
                    .await;
                assert_eq!(served.status(), StatusCode::OK, "{name}, {what}");
                assert_eq!(
                    served.bytes().await.unwrap().to_vec(),
                    *bytes,
                    "{name}, {what}"
                );
            }
        }
        s.stop().await;
    }
}
