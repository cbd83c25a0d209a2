//! Hostile input, table-driven: malformed requests against every route of
//! a real `loupe-issuer serve` process (SQLite always, PostgreSQL when
//! `LOUPE_TEST_POSTGRES_URL` is set), and malformed arguments to the CLI.
//!
//! Every HTTP row must get its 4xx as RFC 9457 `application/problem+json`
//! with the expected `type`, the fixed `title` and a matching `status`;
//! every CLI row one `error: …` line on stderr and a non-zero exit. After
//! the tables the server still answers `/healthz`, its stderr holds no
//! panic, and the stored log is exactly as before: same checkpoint (so the
//! same tree and root), same number of entries, checkpoints and API keys.
//! Requests go out through a raw HTTP client so that paths such as
//! `/tile/%2e%2e/` and non-UTF-8 bytes reach the server unnormalised.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli_support;
mod hostile_support;
#[path = "store_support/mod.rs"]
mod store_support;

use cli_support::{STONE, closed_port, run, stderr, stdout};
use hostile_support::raw_http::{Answer, Raw};
use hostile_support::{Server, bearer, claims, create_key, issue_one, json_post, snapshot};
use loupe_issuer::problem::{PROBLEM_BASE, ProblemType};
use loupe_schemas::token::{Sha256Digest, TokenId};
use serde_json::{Value, json};
use store_support::TestDb;

const SQL: &str = "'; DROP TABLE entries; --";
/// u64::MAX, 2^63 and 2^64.
const U64_MAX: &str = "18446744073709551615";
const TWO_63: &str = "9223372036854775808";
const TWO_64: &str = "18446744073709551616";

/// `claims` with one member replaced (by JSON pointer) by `value`.
fn claims_with(pointer: &str, value: Value) -> Vec<u8> {
    let mut c = claims("HOSTILE-NEW");
    match c.pointer_mut(pointer) {
        Some(v) => *v = value,
        None => {
            let (parent, name) = pointer.rsplit_once('/').unwrap();
            c.pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert(name.to_owned(), value);
        }
    }
    serde_json::to_vec(&c).unwrap()
}

/// One row: a request and the problem it must get.
struct Case {
    name: String,
    req: Raw,
    status: u16,
    slug: &'static str,
}

fn case(name: impl Into<String>, req: Raw, status: u16, slug: &'static str) -> Case {
    Case {
        name: name.into(),
        req,
        status,
        slug,
    }
}

const BOUNDARY: &str = "hostileBOUNDARY7d3";

/// A multipart body: (part name, content type, bytes).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, ct, bytes) in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        out.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n")
                .as_bytes(),
        );
        if let Some(ct) = ct {
            out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn multipart_post(key: &str, body: Vec<u8>) -> Raw {
    bearer(Raw::new("POST", "/v1/tokens"), key)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
}

fn multipart_claims() -> Vec<u8> {
    let c = claims("HOSTILE-MP");
    serde_json::to_vec(&json!({"report_number": c["report_number"], "stone": c["stone"]})).unwrap()
}

/// The table. `key` is a valid API key, `id` an issued token.
#[allow(clippy::too_many_lines)]
fn http_cases(key: &str, id: &TokenId) -> Vec<Case> {
    let unknown = TokenId([0x5a; 32]);
    let good = serde_json::to_vec(&claims("HOSTILE-NEW")).unwrap();
    let mut c = Vec::new();

    // ---- POST /v1/tokens: credentials
    let post = |body: &[u8]| {
        Raw::new("POST", "/v1/tokens")
            .header("Content-Type", "application/json")
            .body(body.to_vec())
    };
    c.push(case(
        "issue: no credentials",
        post(&good),
        401,
        "unauthorized",
    ));
    c.push(case(
        "issue: Basic credentials",
        post(&good).header("Authorization", "Basic dXNlcjpwYXNz"),
        401,
        "unauthorized",
    ));
    c.push(case(
        "issue: unknown key",
        bearer(
            post(&good),
            "loupe_sk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ),
        401,
        "unauthorized",
    ));
    c.push(case(
        "issue: SQL as the key",
        bearer(post(&good), SQL),
        401,
        "unauthorized",
    ));
    c.push(case(
        "issue: non-UTF-8 key",
        post(&good).header("Authorization", b"Bearer \xff\xfe\x80".to_vec()),
        401,
        "unauthorized",
    ));
    c.push(case(
        "issue: empty bearer",
        post(&good).header("Authorization", "Bearer "),
        401,
        "unauthorized",
    ));
    c.push(case(
        "issue: key twice",
        bearer(bearer(post(&good), key), key),
        401,
        "unauthorized",
    ));

    // ---- POST /v1/tokens: content types and bodies
    let issue = |body: Vec<u8>| json_post("/v1/tokens", key, body);
    c.push(case(
        "issue: no content type",
        bearer(Raw::new("POST", "/v1/tokens"), key).body(good.clone()),
        415,
        "unsupported-media-type",
    ));
    c.push(case(
        "issue: text/plain",
        bearer(Raw::new("POST", "/v1/tokens"), key)
            .header("Content-Type", "text/plain")
            .body(good.clone()),
        415,
        "unsupported-media-type",
    ));
    c.push(case(
        "issue: application/cbor",
        bearer(Raw::new("POST", "/v1/tokens"), key)
            .header("Content-Type", "application/cbor")
            .body(vec![0xa0]),
        415,
        "unsupported-media-type",
    ));
    c.push(case(
        "issue: empty JSON body",
        issue(vec![]),
        400,
        "bad-request",
    ));
    c.push(case(
        "issue: truncated JSON",
        issue(good[..good.len() / 2].to_vec()),
        400,
        "bad-request",
    ));
    c.push(case(
        "issue: trailing garbage",
        issue([good.as_slice(), b"}{"].concat()),
        400,
        "bad-request",
    ));
    c.push(case(
        "issue: non-UTF-8 JSON",
        issue(b"{\"report_number\":\"\xff\xfe\"}".to_vec()),
        400,
        "bad-request",
    ));
    c.push(case(
        "issue: CBOR sent as JSON",
        issue(vec![0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40]),
        400,
        "bad-request",
    ));
    c.push(case(
        "issue: JSON array",
        issue(b"[]".to_vec()),
        422,
        "validation",
    ));
    c.push(case(
        "issue: nested 60000 deep",
        issue("[".repeat(60_000).into_bytes()),
        422,
        "validation",
    ));
    let dup = String::from_utf8(good.clone()).unwrap();
    c.push(case(
        "issue: duplicate top-level key",
        issue(
            dup.replacen('{', "{\"report_number\":\"DUP-1\",", 1)
                .into_bytes(),
        ),
        400,
        "bad-request",
    ));
    c.push(case(
        "issue: duplicate stone key",
        issue(
            dup.replacen(
                "\"variety\":\"Ruby\"",
                "\"variety\":\"Ruby\",\"variety\":\"Spinel\"",
                1,
            )
            .into_bytes(),
        ),
        400,
        "bad-request",
    ));
    c.push(case(
        "issue: duplicate key in an image",
        issue(
            dup.replacen(
                "\"role\":\"face-up\"",
                "\"role\":\"face-up\",\"role\":\"table\"",
                1,
            )
            .into_bytes(),
        ),
        400,
        "bad-request",
    ));
    c.push(case(
        "issue: unknown field",
        issue(dup.replacen('{', "{\"x\":1,", 1).into_bytes()),
        422,
        "validation",
    ));
    c.push(case(
        "issue: oversize body",
        issue(vec![b' '; 65 * 1024]),
        413,
        "payload-too-large",
    ));
    c.push(case(
        "issue: negative weight",
        issue(claims_with("/stone/weight_mct", json!(-1))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: weight 2^64",
        issue(
            String::from_utf8(claims_with("/stone/weight_mct", json!(0)))
                .unwrap()
                .replace("\"weight_mct\":0", &format!("\"weight_mct\":{TWO_64}"))
                .into_bytes(),
        ),
        422,
        "validation",
    ));
    c.push(case(
        "issue: weight zero",
        issue(claims_with("/stone/weight_mct", json!(0))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: weight as text",
        issue(claims_with("/stone/weight_mct", json!("1520"))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: weight 1.5",
        issue(claims_with("/stone/weight_mct", json!(1.5))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: negative size",
        issue(claims_with("/report/size", json!(-5))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: short sha256",
        issue(claims_with("/report/sha256", json!("abcd"))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: SQL in sha256",
        issue(claims_with("/report/sha256", json!(SQL))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: SQL in media type",
        issue(claims_with("/report/media_type", json!(SQL))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: SQL as image role",
        issue(claims_with("/images/0/role", json!(SQL))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: SQL in supersedes",
        issue(claims_with("/supersedes", json!(SQL))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: traversal as report number with an unknown supersedes",
        issue(
            String::from_utf8(claims_with("/report_number", json!("../../etc/passwd")))
                .unwrap()
                .replacen('{', &format!("{{\"supersedes\":\"{unknown}\","), 1)
                .into_bytes(),
        ),
        409,
        "conflict",
    ));
    c.push(case(
        "issue: empty report number",
        issue(claims_with("/report_number", json!(""))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: report number 200 bytes",
        issue(claims_with("/report_number", json!("R".repeat(200)))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: NUL in variety",
        issue(claims_with("/stone/variety", json!("Ru\u{0}by"))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: two dimensions",
        issue(claims_with("/stone/dimensions_um", json!([1, 2]))),
        422,
        "validation",
    ));
    c.push(case(
        "issue: same role twice",
        issue(claims_with(
            "/images",
            json!([claims("x")["images"][0], claims("x")["images"][0]]),
        )),
        422,
        "validation",
    ));
    c.push(case("issue: unknown video role", issue(claims_with("/videos", json!([{"role": "../x", "sha256": Sha256Digest::of(b"v").to_string(), "media_type": "video/mp4", "size": 1}]))), 422, "validation"));
    c.push(case(
        "issue: null stone",
        issue(claims_with("/stone", Value::Null)),
        422,
        "validation",
    ));

    // ---- POST /v1/tokens: multipart
    let mc = multipart_claims();
    let pdf: &[u8] = b"%PDF-1.4 hostile";
    c.push(case(
        "multipart: no boundary",
        bearer(Raw::new("POST", "/v1/tokens"), key)
            .header("Content-Type", "multipart/form-data")
            .body(multipart(&[("claims", None, &mc)])),
        400,
        "bad-request",
    ));
    c.push(case(
        "multipart: garbage body",
        multipart_post(key, b"\x00\x01garbage\xff".to_vec()),
        400,
        "bad-request",
    ));
    c.push(case(
        "multipart: no claims part",
        multipart_post(key, multipart(&[("report", Some("application/pdf"), pdf)])),
        422,
        "validation",
    ));
    c.push(case(
        "multipart: no report part",
        multipart_post(key, multipart(&[("claims", None, &mc)])),
        422,
        "validation",
    ));
    c.push(case(
        "multipart: claims not JSON",
        multipart_post(
            key,
            multipart(&[
                ("claims", None, b"{not json"),
                ("report", Some("application/pdf"), pdf),
            ]),
        ),
        400,
        "bad-request",
    ));
    c.push(case(
        "multipart: claims with a duplicate key",
        multipart_post(
            key,
            multipart(&[
                (
                    "claims",
                    None,
                    br#"{"report_number":"A","report_number":"B","stone":{}}"#,
                ),
                ("report", Some("application/pdf"), pdf),
            ]),
        ),
        400,
        "bad-request",
    ));
    c.push(case(
        "multipart: claims twice",
        multipart_post(
            key,
            multipart(&[("claims", None, &mc), ("claims", None, &mc)]),
        ),
        422,
        "validation",
    ));
    c.push(case(
        "multipart: traversal part name",
        multipart_post(
            key,
            multipart(&[
                ("claims", None, &mc),
                ("../../etc/passwd", Some("application/pdf"), pdf),
            ]),
        ),
        422,
        "validation",
    ));
    c.push(case(
        "multipart: SQL part name",
        multipart_post(
            key,
            multipart(&[("claims", None, &mc), (SQL, Some("application/pdf"), pdf)]),
        ),
        422,
        "validation",
    ));
    c.push(case(
        "multipart: file without media type",
        multipart_post(
            key,
            multipart(&[("claims", None, &mc), ("report", None, pdf)]),
        ),
        422,
        "validation",
    ));
    c.push(case(
        "multipart: report twice",
        multipart_post(
            key,
            multipart(&[
                ("claims", None, &mc),
                ("report", Some("application/pdf"), pdf),
                ("report", Some("application/pdf"), pdf),
            ]),
        ),
        422,
        "validation",
    ));
    c.push(case(
        "multipart: SQL media type",
        multipart_post(
            key,
            multipart(&[("claims", None, &mc), ("report", Some(SQL), pdf)]),
        ),
        422,
        "validation",
    ));
    let mut truncated = multipart(&[
        ("claims", None, &mc),
        ("report", Some("application/pdf"), pdf),
    ]);
    truncated.truncate(truncated.len() - 30);
    c.push(case(
        "multipart: truncated",
        multipart_post(key, truncated),
        400,
        "bad-request",
    ));
    c.push(case(
        "multipart: oversize file",
        multipart_post(
            key,
            multipart(&[
                ("claims", None, &mc),
                (
                    "report",
                    Some("application/pdf"),
                    &vec![b'%'; (1 << 20) + 1],
                ),
            ]),
        ),
        413,
        "payload-too-large",
    ));
    c.push(case(
        "multipart: oversize claims",
        multipart_post(key, multipart(&[("claims", None, &vec![b' '; 65 * 1024])])),
        413,
        "payload-too-large",
    ));

    // ---- POST /v1/tokens/{id}/revocations
    let rev = |id: &str, body: &[u8]| {
        json_post(&format!("/v1/tokens/{id}/revocations"), key, body.to_vec())
    };
    let reason = br#"{"reason":"withdrawn"}"#;
    let id_s = id.to_string();
    c.push(case(
        "revoke: no credentials",
        Raw::new("POST", format!("/v1/tokens/{id}/revocations"))
            .header("Content-Type", "application/json")
            .body(reason.to_vec()),
        401,
        "unauthorized",
    ));
    c.push(case(
        "revoke: bad key",
        bearer(
            Raw::new("POST", format!("/v1/tokens/{id}/revocations")),
            "loupe_sk_x",
        )
        .header("Content-Type", "application/json")
        .body(reason.to_vec()),
        401,
        "unauthorized",
    ));
    c.push(case(
        "revoke: malformed id",
        rev("short", reason),
        404,
        "not-found",
    ));
    c.push(case(
        "revoke: SQL id",
        rev("%27%3B%20DROP%20TABLE%20entries%3B%20--", reason),
        404,
        "not-found",
    ));
    c.push(case(
        "revoke: unknown id",
        rev(&unknown.to_string(), reason),
        404,
        "not-found",
    ));
    c.push(case(
        "revoke: SQL reason, unknown id",
        rev(
            &unknown.to_string(),
            &serde_json::to_vec(&json!({"reason": SQL})).unwrap(),
        ),
        404,
        "not-found",
    ));
    c.push(case(
        "revoke: empty body",
        rev(&id_s, b""),
        400,
        "bad-request",
    ));
    c.push(case(
        "revoke: not JSON",
        rev(&id_s, b"withdrawn"),
        400,
        "bad-request",
    ));
    c.push(case(
        "revoke: unknown field",
        rev(&id_s, br#"{"reason":"x","by":"me"}"#),
        422,
        "validation",
    ));
    c.push(case(
        "revoke: reason a number",
        rev(&id_s, br#"{"reason":42}"#),
        422,
        "validation",
    ));
    c.push(case(
        "revoke: duplicate reason",
        rev(&id_s, br#"{"reason":"a","reason":"b"}"#),
        400,
        "bad-request",
    ));
    c.push(case(
        "revoke: empty reason",
        rev(&id_s, br#"{"reason":""}"#),
        422,
        "validation",
    ));
    c.push(case(
        "revoke: reason 10 kB",
        rev(
            &id_s,
            &serde_json::to_vec(&json!({"reason": "x".repeat(10_000)})).unwrap(),
        ),
        422,
        "validation",
    ));
    c.push(case(
        "revoke: oversize body",
        rev(&id_s, &vec![b' '; 65 * 1024]),
        413,
        "payload-too-large",
    ));
    c.push(case(
        "revoke: text/plain",
        bearer(
            Raw::new("POST", format!("/v1/tokens/{id}/revocations")),
            key,
        )
        .header("Content-Type", "text/plain")
        .body(reason.to_vec()),
        415,
        "unsupported-media-type",
    ));
    c.push(case(
        "revoke: no content type",
        bearer(
            Raw::new("POST", format!("/v1/tokens/{id}/revocations")),
            key,
        )
        .body(reason.to_vec()),
        415,
        "unsupported-media-type",
    ));

    // ---- GET /t/{id} and the token's other reads
    for (what, seg) in [
        ("short id", "abc".to_owned()),
        ("SQL id", "%27%20OR%20%271%27%3D%271".to_owned()),
        (
            "encoded traversal",
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_owned(),
        ),
        ("44-character id", format!("{id}A")),
        ("bad base64 character", format!("{}!", &id_s[..42])),
        ("unknown id", unknown.to_string()),
        ("percent-encoded NUL", format!("{}%00", &id_s[..42])),
    ] {
        c.push(case(
            format!("GET /t: {what}"),
            Raw::new("GET", format!("/t/{seg}")),
            404,
            "not-found",
        ));
        c.push(case(
            format!("proof: {what}"),
            Raw::new("GET", format!("/v1/tokens/{seg}/proof")),
            404,
            "not-found",
        ));
        c.push(case(
            format!("status: {what}"),
            Raw::new("GET", format!("/v1/tokens/{seg}/status")),
            404,
            "not-found",
        ));
        c.push(case(
            format!("qr.svg: {what}"),
            Raw::new("GET", format!("/v1/tokens/{seg}/qr.svg")),
            404,
            "not-found",
        ));
    }
    c.push(case(
        "GET /t: non-UTF-8 percent bytes",
        Raw::new("GET", "/t/%ff%fe%80"),
        400,
        "bad-request",
    ));
    c.push(case(
        "qr.png: unknown id",
        Raw::new("GET", format!("/v1/tokens/{unknown}/qr.png")),
        404,
        "not-found",
    ));
    c.push(case(
        "qr.gif: no such route",
        Raw::new("GET", format!("/v1/tokens/{id}/qr.gif")),
        404,
        "not-found",
    ));
    c.push(case(
        "DELETE /t/{id}",
        Raw::new("DELETE", format!("/t/{id}")),
        405,
        "method-not-allowed",
    ));
    c.push(case(
        "PUT /v1/tokens",
        bearer(Raw::new("PUT", "/v1/tokens"), key),
        405,
        "method-not-allowed",
    ));

    // ---- ?tree_size= of the proof
    for (what, q, status, slug) in [
        ("non-numeric", "abc", 400, "bad-request"),
        ("negative", "-1", 400, "bad-request"),
        ("2^64", TWO_64, 400, "bad-request"),
        ("u64::MAX", U64_MAX, 404, "not-found"),
        ("2^63", TWO_63, 404, "not-found"),
        ("zero", "0", 404, "not-found"),
        (
            "SQL",
            "1%27%3B%20DROP%20TABLE%20entries%3B%20--",
            400,
            "bad-request",
        ),
        ("twice", "1&tree_size=2", 400, "bad-request"),
    ] {
        c.push(case(
            format!("proof ?tree_size {what}"),
            Raw::new("GET", format!("/v1/tokens/{id}/proof?tree_size={q}")),
            status,
            slug,
        ));
    }
    c.push(case(
        "proof: unknown query",
        Raw::new("GET", format!("/v1/tokens/{id}/proof?size=1")),
        400,
        "bad-request",
    ));

    // ---- GET /media/{sha256}
    let sha = Sha256Digest::of(b"nothing").to_string();
    for (what, seg) in [
        (
            "encoded traversal",
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_owned(),
        ),
        ("encoded absolute path", "%2fetc%2fpasswd".to_owned()),
        ("dot-dot", "..".to_owned()),
        ("uppercase hex", sha.to_ascii_uppercase()),
        ("63 digits", sha[..63].to_owned()),
        ("65 digits", format!("{sha}0")),
        ("shard/name", format!("{}%2f{sha}", &sha[..2])),
        ("SQL", "%27%3B%20DROP%20TABLE%20entries%3B%20--".to_owned()),
        ("unknown digest", sha.clone()),
        ("temp-file name", ".tmp-0000".to_owned()),
    ] {
        c.push(case(
            format!("media: {what}"),
            Raw::new("GET", format!("/media/{seg}")),
            404,
            "not-found",
        ));
    }
    c.push(case(
        "media: non-UTF-8",
        Raw::new("GET", "/media/%c3%28"),
        400,
        "bad-request",
    ));

    // ---- GET /tile/...
    for (what, path) in [
        ("encoded traversal", "/tile/%2e%2e/%2e%2e/etc/passwd"),
        (
            "traversal after a level",
            "/tile/0/%2e%2e%2f%2e%2e%2fcheckpoint",
        ),
        ("absolute path", "/tile//etc/passwd"),
        ("u64::MAX index", "/tile/0/18446744073709551615"),
        (
            "index past u64",
            "/tile/0/x999/x999/x999/x999/x999/x999/x999",
        ),
        (
            "2^63 as an index",
            "/tile/0/x009/x223/x372/x036/x854/x775/808",
        ),
        ("level 64", "/tile/64/000"),
        ("level u64::MAX", "/tile/18446744073709551615/000"),
        ("negative level", "/tile/-1/000"),
        ("non-numeric", "/tile/0/abc"),
        ("width 0", "/tile/0/000.p/0"),
        ("width 257", "/tile/0/000.p/257"),
        ("negative width", "/tile/0/000.p/-1"),
        ("width 256 partial", "/tile/0/000.p/256"),
        (
            "entries past u64",
            "/tile/entries/x999/x999/x999/x999/x999/x999/x999",
        ),
        ("entries traversal", "/tile/entries/%2e%2e/000"),
        (
            "entries at 2^63",
            "/tile/entries/x009/x223/x372/x036/x854/x775/808",
        ),
        (
            "entries at 2^55",
            "/tile/entries/x036/x028/x797/x018/x963/968",
        ),
        ("SQL", "/tile/0/%27%3B%20DROP%20TABLE%20tiles%3B%20--"),
        ("not yet in the log", "/tile/0/x001/000"),
        ("data tile name", "/tile/data/000"),
    ] {
        c.push(case(
            format!("tile: {what}"),
            Raw::new("GET", path),
            404,
            "not-found",
        ));
    }
    c.push(case(
        "tile: non-UTF-8",
        Raw::new("GET", "/tile/0/%ff"),
        400,
        "bad-request",
    ));
    c.push(case(
        "POST /checkpoint",
        Raw::new("POST", "/checkpoint").body(b"x".to_vec()),
        405,
        "method-not-allowed",
    ));

    // ---- GET /v1/consistency
    for (what, q) in [
        ("no parameters", ""),
        ("only old", "?old=0"),
        ("non-numeric", "?old=a&new=1"),
        ("negative", "?old=-1&new=1"),
        ("old > new", "?old=2&new=1"),
        ("new past the tree", "?old=0&new=1000"),
        ("new u64::MAX", "?old=0&new=18446744073709551615"),
        ("new 2^63", "?old=0&new=9223372036854775808"),
        ("old 2^64", "?old=18446744073709551616&new=1"),
        (
            "both u64::MAX",
            "?old=18446744073709551615&new=18446744073709551615",
        ),
        ("duplicate old", "?old=0&old=1&new=1"),
        ("SQL", "?old=0%27%20OR%201%3D1&new=1"),
        ("unknown parameter", "?old=0&new=1&x=1"),
        ("non-UTF-8", "?old=%ff&new=1"),
    ] {
        c.push(case(
            format!("consistency: {what}"),
            Raw::new("GET", format!("/v1/consistency{q}")),
            400,
            "bad-request",
        ));
    }
    c
}

/// Checks one answer against its row; returns a failure message.
fn check(case: &Case, a: &Answer) -> Option<String> {
    let body = String::from_utf8_lossy(&a.body);
    if a.status != case.status {
        return Some(format!(
            "status {} (want {}): {body}",
            a.status, case.status
        ));
    }
    if a.header("content-type").as_deref() != Some("application/problem+json") {
        return Some(format!(
            "content type {:?}: {body}",
            a.header("content-type")
        ));
    }
    let Ok(p) = serde_json::from_slice::<Value>(&a.body) else {
        return Some(format!("problem body is not JSON: {body}"));
    };
    let want = ProblemType::ALL
        .iter()
        .find(|t| t.slug() == case.slug)
        .expect("a known slug");
    if p["type"] != format!("{PROBLEM_BASE}{}", case.slug) {
        return Some(format!("type {} (want {}): {body}", p["type"], case.slug));
    }
    if p["title"] != want.title() || p["status"] != case.status {
        return Some(format!("title/status: {body}"));
    }
    None
}

#[tokio::test]
async fn hostile_http_requests_get_problems_and_change_nothing() {
    for db in TestDb::all().await {
        let tmp = tempfile::tempdir().unwrap();
        let key = create_key(tmp.path(), &db).await;
        let server = Server::start(tmp.path(), &db.url, &[]).await;
        let id = issue_one(server.addr, &key).await;
        // The raw client works: a good read.
        let a = Raw::new("GET", format!("/t/{id}")).send(server.addr).await;
        assert_eq!(a.status, 200);
        let before = snapshot(&server, &db).await;
        let top_level: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();

        let cases = http_cases(&key, &id);
        assert!(cases.len() >= 150, "{} rows", cases.len());
        let mut failures = Vec::new();
        for case in &cases {
            let a = case.req.send(server.addr).await;
            if let Some(why) = check(case, &a) {
                failures.push(format!("[{}] {}: {why}", db.name, case.name));
            }
        }
        let after = snapshot(&server, &db).await;
        let log = server.stderr();
        assert!(
            failures.is_empty(),
            "{} of {} rows failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
        assert_eq!(before, after, "[{}] stored data changed", db.name);
        assert!(
            !log.contains("panicked"),
            "[{}] the server panicked:\n{log}",
            db.name
        );
        let top_after: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            top_level, top_after,
            "nothing written outside the media store"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

/// `STONE` with `flag`'s value replaced.
fn stone_with(flag: &str, value: &str) -> Vec<String> {
    let mut v: Vec<String> = STONE.iter().map(|s| (*s).to_owned()).collect();
    let i = v.iter().position(|s| s == flag).unwrap();
    v[i + 1] = value.to_owned();
    v
}

/// Asserts a CLI failure: non-zero exit, exactly one `error: …` line on
/// stderr, no panic. Returns a failure message instead of panicking.
fn cli_failure(name: &str, o: &std::process::Output) -> Option<String> {
    let err = stderr(o);
    if o.status.success() {
        return Some(format!("{name}: exit 0\nstdout: {}", stdout(o)));
    }
    if err.lines().count() != 1 || !err.starts_with("error: ") {
        return Some(format!("{name}: stderr is not one error line: {err:?}"));
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        return Some(format!("{name}: {err}"));
    }
    None
}

#[tokio::test]
async fn hostile_cli_arguments_fail_in_one_line_and_change_nothing() {
    for db in TestDb::all().await {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let key = create_key(dir, &db).await;
        let server = Server::start(dir, &db.url, &[]).await;
        let id = issue_one(server.addr, &key).await.to_string();
        std::fs::write(dir.join("report.pdf"), b"%PDF-1.4 hostile").unwrap();
        std::fs::write(dir.join("batch.csv"), b"\xff\xfe\x00garbage\n\x80").unwrap();
        let before = snapshot(&server, &db).await;
        let base = server.base();
        let closed = format!("http://{}", closed_port());
        let unknown = TokenId([0x5a; 32]).to_string();

        let issue = |server: &str, key: &str, rn: &str, stone: Vec<String>, extra: &[&str]| {
            let mut v: Vec<String> = [
                "issue",
                "--server",
                server,
                "--api-key",
                key,
                "--report-number",
                rn,
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            v.extend(stone);
            v.extend(extra.iter().map(|s| (*s).to_owned()));
            v
        };
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
        let stone = || STONE.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let report = ["--report", "report.pdf"];
        let rows: Vec<(&str, Vec<String>)> = vec![
            (
                "issue: issuer unreachable",
                issue(&closed, &key, "H-1", stone(), &report),
            ),
            (
                "issue: server not http",
                issue("ftp://lab.example", &key, "H-1", stone(), &report),
            ),
            (
                "issue: malformed server URL",
                issue("http://[::1", &key, "H-1", stone(), &report),
            ),
            (
                "issue: SQL as the API key",
                issue(&base, SQL, "H-1", stone(), &report),
            ),
            (
                "issue: unknown API key",
                issue(&base, "loupe_sk_AAAA", "H-1", stone(), &report),
            ),
            (
                "issue: SQL report number, bad key",
                issue(&base, "nope", SQL, stone(), &report),
            ),
            (
                "issue: negative weight",
                issue(&base, &key, "H-1", stone_with("--weight", "-1"), &report),
            ),
            (
                "issue: weight not a number",
                issue(&base, &key, "H-1", stone_with("--weight", "abc"), &report),
            ),
            (
                "issue: weight 1e400",
                issue(&base, &key, "H-1", stone_with("--weight", "1e400"), &report),
            ),
            (
                "issue: weight past u64",
                issue(&base, &key, "H-1", stone_with("--weight", TWO_64), &report),
            ),
            (
                "issue: weight zero",
                issue(&base, &key, "H-1", stone_with("--weight", "0"), &report),
            ),
            (
                "issue: two dimensions",
                issue(
                    &base,
                    &key,
                    "H-1",
                    stone_with("--dimensions", "1x2"),
                    &report,
                ),
            ),
            (
                "issue: negative dimension",
                issue(
                    &base,
                    &key,
                    "H-1",
                    stone_with("--dimensions", "-1x2x3"),
                    &report,
                ),
            ),
            (
                "issue: SQL supersedes",
                issue(
                    &base,
                    &key,
                    "H-1",
                    stone(),
                    &["--report", "report.pdf", "--supersedes", SQL],
                ),
            ),
            (
                "issue: traversal capture folder",
                issue(
                    &base,
                    &key,
                    "H-1",
                    stone(),
                    &["--capture", "../../../../nonexistent"],
                ),
            ),
            (
                "issue: missing report file",
                issue(
                    &base,
                    &key,
                    "H-1",
                    stone(),
                    &["--report", "/nonexistent/report.pdf"],
                ),
            ),
            (
                "issue: SQL image role",
                issue(
                    &base,
                    &key,
                    "H-1",
                    stone(),
                    &[
                        "--report",
                        "report.pdf",
                        "--image",
                        &format!("{SQL}=report.pdf"),
                    ],
                ),
            ),
            (
                "issue: non-UTF-8 batch file",
                s(&[
                    "issue",
                    "--server",
                    &base,
                    "--api-key",
                    &key,
                    "--batch",
                    "batch.csv",
                ]),
            ),
            (
                "revoke: short id",
                s(&[
                    "revoke",
                    "short",
                    "--reason",
                    "x",
                    "--server",
                    &base,
                    "--api-key",
                    &key,
                ]),
            ),
            (
                "revoke: SQL id",
                s(&[
                    "revoke",
                    SQL,
                    "--reason",
                    "x",
                    "--server",
                    &base,
                    "--api-key",
                    &key,
                ]),
            ),
            (
                "revoke: unknown id, SQL reason",
                s(&[
                    "revoke",
                    &unknown,
                    "--reason",
                    SQL,
                    "--server",
                    &base,
                    "--api-key",
                    &key,
                ]),
            ),
            (
                "revoke: bad key",
                s(&[
                    "revoke",
                    &id,
                    "--reason",
                    "x",
                    "--server",
                    &base,
                    "--api-key",
                    SQL,
                ]),
            ),
            (
                "revoke: empty reason",
                s(&[
                    "revoke",
                    &id,
                    "--reason",
                    "",
                    "--server",
                    &base,
                    "--api-key",
                    &key,
                ]),
            ),
            (
                "qr: neither URL nor id",
                s(&["qr", "'; DROP TABLE entries; --"]),
            ),
            (
                "qr: unwritable PNG path",
                s(&[
                    "qr",
                    &id,
                    "--base-url",
                    "https://lab.example",
                    "--png",
                    "/nonexistent/dir/x.png",
                ]),
            ),
            (
                "apikey revoke: not a number",
                s(&["apikey", "revoke", "abc", "--database-url", &db.url]),
            ),
            (
                "apikey revoke: negative",
                s(&["apikey", "revoke", "--database-url", &db.url, "--", "-1"]),
            ),
            (
                "apikey revoke: 2^63",
                s(&["apikey", "revoke", TWO_63, "--database-url", &db.url]),
            ),
            (
                "apikey revoke: 2^64",
                s(&["apikey", "revoke", TWO_64, "--database-url", &db.url]),
            ),
            (
                "apikey revoke: SQL",
                s(&["apikey", "revoke", SQL, "--database-url", &db.url]),
            ),
            (
                "apikey revoke: unknown id",
                s(&["apikey", "revoke", "999999", "--database-url", &db.url]),
            ),
            (
                "apikey list: unknown database scheme",
                s(&["apikey", "list", "--database-url", "mysql://x/y"]),
            ),
            (
                "apikey list: database in a missing folder",
                s(&[
                    "apikey",
                    "list",
                    "--database-url",
                    "sqlite:///nonexistent/dir/x.db",
                ]),
            ),
        ];
        assert!(rows.len() >= 30);
        let mut failures = Vec::new();
        for (name, args) in &rows {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run(dir, &refs).await;
            failures.extend(cli_failure(&format!("[{}] {name}", db.name), &out));
        }
        let after = snapshot(&server, &db).await;
        assert!(
            failures.is_empty(),
            "{} of {} rows failed:\n{}",
            failures.len(),
            rows.len(),
            failures.join("\n")
        );
        assert_eq!(before, after, "[{}] stored data changed", db.name);
        let log = server.stderr();
        assert!(!log.contains("panicked"), "{log}");
        server.stop().await;
        db.cleanup().await;
    }
}

/// SQL metacharacters in every string field are data: issued, stored and
/// served back verbatim, with the tables intact.
#[tokio::test]
async fn sql_metacharacters_in_every_string_field_are_stored_verbatim() {
    for db in TestDb::all().await {
        let tmp = tempfile::tempdir().unwrap();
        let key = create_key(tmp.path(), &db).await;
        let server = Server::start(tmp.path(), &db.url, &[]).await;
        let mut body = claims(SQL);
        for field in [
            "variety",
            "species",
            "colour",
            "shape",
            "cut",
            "clarity",
            "treatment",
            "origin",
        ] {
            body["stone"][field] = json!(format!("{SQL} {field} \" \\ %"));
        }
        let a = json_post("/v1/tokens", &key, serde_json::to_vec(&body).unwrap())
            .send(server.addr)
            .await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        let id = v["token_id"].as_str().unwrap().to_owned();
        let got = Raw::new("GET", format!("/t/{id}"))
            .header("Accept", "application/json")
            .send(server.addr)
            .await;
        assert_eq!(got.status, 200);
        let t: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(t["token"]["claims"]["sub"], SQL);
        assert_eq!(t["token"]["provenance"]["stone"], body["stone"]);
        let reason = format!("{SQL} \"); DELETE FROM api_keys; --");
        let r = json_post(
            &format!("/v1/tokens/{id}/revocations"),
            &key,
            serde_json::to_vec(&json!({ "reason": reason })).unwrap(),
        )
        .send(server.addr)
        .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let st = Raw::new("GET", format!("/v1/tokens/{id}/status"))
            .send(server.addr)
            .await;
        let st: Value = serde_json::from_slice(&st.body).unwrap();
        assert_eq!(st["revoked_by"]["reason"], reason.as_str());
        assert_eq!(db.count("entries").await, 2);
        assert_eq!(db.count("api_keys").await, 1);
        server.stop().await;
        db.cleanup().await;
    }
}
