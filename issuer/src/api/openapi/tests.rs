//! The generated document: its references resolve inside it, it describes
//! exactly the routes the router serves, it embeds the normative schemas
//! verbatim, and its examples are valid against its own schemas.

use std::collections::{BTreeMap, BTreeSet};

use jsonschema::{Registry, Uri, uri};
use serde_json::{Value, json};

use super::*;

/// The URI the document is resolved against: it has no `$id` of its own,
/// so only fragment references (`#/components/...`) and the `$id`s it
/// embeds can name anything inside it.
const DOC_BASE: &str = "urn:loupe:issuer:openapi";

/// Where a `$ref` points, as an absolute URI.
#[derive(Debug)]
struct Reference {
    /// The JSON pointer of the object holding the `$ref`.
    at: String,
    /// Its value.
    value: String,
    /// The resolved target, or why it could not be resolved.
    target: Result<String, String>,
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Every `$ref` under `value`, resolved against the nearest enclosing
/// `$id` (JSON Schema 2020-12 §8.2.1; OpenAPI 3.1 §4.8.24.1), and every
/// resource a `$id` names.
fn walk(
    value: &Value,
    base: &Uri<String>,
    at: &str,
    refs: &mut Vec<Reference>,
    resources: &mut BTreeMap<String, (String, Value)>,
) {
    match value {
        Value::Object(map) => {
            let mut base = base.clone();
            if let Some(Value::String(id)) = map.get("$id") {
                match uri::resolve_against(&base.borrow(), id) {
                    Ok(resolved) => {
                        let key = resolved.as_str().trim_end_matches('#').to_owned();
                        let previous =
                            resources.insert(key.clone(), (at.to_owned(), value.clone()));
                        assert!(previous.is_none(), "{key} is the $id of two schemas");
                        base = resolved;
                    }
                    Err(e) => panic!("$id {id:?} at {at} does not resolve: {e}"),
                }
            }
            if let Some(Value::String(r)) = map.get("$ref") {
                refs.push(Reference {
                    at: at.to_owned(),
                    value: r.clone(),
                    target: uri::resolve_against(&base.borrow(), r)
                        .map(|u| u.as_str().to_owned())
                        .map_err(|e| e.to_string()),
                });
            }
            for (key, child) in map {
                // Examples are data, not schemas.
                if key == "example" || key == "examples" {
                    continue;
                }
                walk(
                    child,
                    &base,
                    &format!("{at}/{}", escape(key)),
                    refs,
                    resources,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, base, &format!("{at}/{i}"), refs, resources);
            }
        }
        _ => {}
    }
}

/// The `$ref`s of `doc` that do not lead to a value inside it, with why.
fn unresolved(doc: &Value) -> (usize, Vec<String>) {
    let base = uri::from_str(DOC_BASE).expect("base URI");
    let mut refs = Vec::new();
    let mut resources = BTreeMap::new();
    resources.insert(DOC_BASE.to_owned(), (String::new(), doc.clone()));
    walk(doc, &base, "", &mut refs, &mut resources);
    let mut bad = Vec::new();
    for r in &refs {
        let target = match &r.target {
            Ok(t) => t,
            Err(e) => {
                bad.push(format!("{} at {}: {e}", r.value, r.at));
                continue;
            }
        };
        let (resource, fragment) = target.split_once('#').unwrap_or((target, ""));
        let Some((_, contents)) = resources.get(resource) else {
            bad.push(format!(
                "{} at {}: {resource} is neither this document nor an embedded $id",
                r.value, r.at
            ));
            continue;
        };
        if !(fragment.is_empty() || fragment.starts_with('/')) || fragment.contains('%') {
            bad.push(format!(
                "{} at {}: only JSON pointer fragments are used here",
                r.value, r.at
            ));
            continue;
        }
        if contents.pointer(fragment).is_none() {
            bad.push(format!(
                "{} at {}: nothing at {fragment} in {resource}",
                r.value, r.at
            ));
        }
    }
    (refs.len(), bad)
}

#[test]
fn every_ref_resolves_inside_the_document() {
    let doc = openapi_document();
    let (count, bad) = unresolved(&doc);
    assert!(bad.is_empty(), "unresolved references:\n{}", bad.join("\n"));
    // Not vacuous: the generated operations, the shared responses and the
    // embedded schemas' own references were all walked.
    assert!(count > 50, "only {count} references found");
    let text = doc.to_string();
    for needle in [
        "\"$ref\":\"#/components/schemas/Problem\"",
        "\"$ref\":\"#/components/responses/Unavailable\"",
        "\"$ref\":\"https://loupe.example/schemas/issuance.schema.json\"",
        "\"$ref\":\"provenance.schema.json#/$defs/token_id\"",
        "\"$ref\":\"#/$defs/stone\"",
    ] {
        assert!(text.contains(needle), "no {needle} in the document");
    }
}

#[test]
fn the_ref_check_finds_broken_references() {
    let mut doc = openapi_document();
    let broken = [
        ("#/components/schemas/NoSuchSchema", "nothing at"),
        (
            "https://loupe.example/schemas/nothing.schema.json",
            "neither this document",
        ),
        // Relative to the document, which has no hierarchical base.
        ("provenance.schema.json#/$defs/stone", "Failed to resolve"),
        ("#/$defs/stone", "nothing at"),
        ("#anchor", "only JSON pointer"),
    ];
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("components/schemas");
    for (i, (r, _)) in broken.iter().enumerate() {
        schemas.insert(format!("Broken{i}"), json!({ "$ref": r }));
    }
    // Inside an embedded schema, `#/$defs/...` is relative to its `$id`:
    // a name that is not among its `$defs` does not resolve either.
    doc["components"]["schemas"]["provenance"]["properties"]["stone"]["$ref"] =
        json!("#/$defs/no_such_def");
    let (_, bad) = unresolved(&doc);
    for (r, why) in broken {
        assert!(
            bad.iter()
                .any(|b| b.starts_with(&format!("{r} at")) && b.contains(why)),
            "{r} was not reported ({why}): {bad:#?}"
        );
    }
    assert!(
        bad.iter().any(|b| b.starts_with("#/$defs/no_such_def at")),
        "{bad:#?}"
    );
    assert_eq!(bad.len(), 6, "{bad:#?}");
}

/// The (method, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["parameters", "summary", "description", "servers"].contains(&method.as_str()) {
                continue;
            }
            ops.insert((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

#[test]
fn the_document_describes_exactly_the_routes_served() {
    let served: Vec<(String, String)> = super::super::operations()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let served_set: BTreeSet<_> = served.iter().cloned().collect();
    assert_eq!(
        served.len(),
        served_set.len(),
        "a route is registered twice"
    );
    let documented = documented(&openapi_document());
    let undocumented: Vec<_> = served_set.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served_set).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not documented: {undocumented:?}; documented but not served: {unserved:?}"
    );
    assert_eq!(served.len(), 15);
}

#[test]
fn router_paths_follow_the_documented_ones() {
    // The one route whose last parameter spans segments.
    let tile = super::super::routes(0)
        .into_iter()
        .find(|r| r.path == "/tile/{path}")
        .expect("the tile route");
    assert_eq!(tile.router_path(), "/tile/{*path}");
    for route in super::super::routes(0) {
        assert!(route.path.starts_with('/'), "{}", route.path);
        assert!(!route.path.contains("{*"), "{}", route.path);
        if route.path != "/tile/{path}" {
            assert_eq!(route.router_path(), route.path);
        }
    }
}

#[test]
fn the_normative_schemas_are_embedded_verbatim() {
    let doc = openapi_document();
    for (name, text) in NORMATIVE {
        let schema: Value = serde_json::from_str(text).expect("schema is JSON");
        assert_eq!(
            doc["components"]["schemas"][name], schema,
            "{name} is not schemas/json/{name}.schema.json"
        );
        assert_eq!(
            schema["$id"],
            format!("https://loupe.example/schemas/{name}.schema.json"),
            "{name}"
        );
    }
    for id in [PROVENANCE, TOKEN, PROBLEM] {
        assert!(
            NORMATIVE
                .iter()
                .any(|(_, text)| text.contains(&format!("\"$id\": \"{id}\""))),
            "{id} is the $id of no embedded schema"
        );
    }
}

#[test]
fn the_document_is_openapi_3_1_with_the_lab_credential() {
    let doc = openapi_document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"][LAB_API_KEY],
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "loupe_sk_ followed by 43 characters of base64url",
            "description": "A lab API key created with `loupe-issuer apikey create`, sent as `Authorization: Bearer loupe_sk_…`; the issuer stores only its SHA-256",
        })
    );
    // Every requirement names a declared scheme, and exactly the two
    // writes (whose handlers take `BearerKey`) require one.
    let mut secured = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Some(requirements) = op.get("security") else {
                continue;
            };
            for requirement in requirements.as_array().expect("security") {
                for name in requirement.as_object().expect("requirement").keys() {
                    assert!(
                        doc["components"]["securitySchemes"][name].is_object(),
                        "{method} {path} requires the undeclared scheme {name}"
                    );
                }
            }
            secured.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    secured.sort();
    assert_eq!(
        secured,
        ["POST /v1/tokens", "POST /v1/tokens/{id}/revocations"]
    );
}

/// A validator for the schema at `pointer` in `doc`, resolving references
/// only inside the document (no retrieval).
fn validator(doc: &Value, pointer: &str) -> jsonschema::Validator {
    let mut registry = Registry::new().add(DOC_BASE, doc.clone()).expect("doc");
    for (name, _) in NORMATIVE {
        let schema = doc["components"]["schemas"][name].clone();
        let id = schema["$id"].as_str().expect("$id").to_owned();
        registry = registry.add(id, schema).expect("schema");
    }
    let registry = registry.prepare().expect("registry");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_registry(&registry)
        .build(&json!({ "$ref": format!("{DOC_BASE}#{pointer}") }))
        .unwrap_or_else(|e| panic!("{pointer}: {e}"))
}

#[test]
fn examples_are_valid_and_limits_match_the_code() {
    let doc = openapi_document();
    for name in ["IssueRequest", "RevokeRequest"] {
        let pointer = format!("/components/schemas/{name}");
        let example = doc
            .pointer(&format!("{pointer}/example"))
            .unwrap_or_else(|| panic!("{name} has no example"));
        let v = validator(&doc, &pointer);
        let errors: Vec<String> = v.iter_errors(example).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name} example: {errors:?}");
        // And the request types read them.
        let parsed = match name {
            "IssueRequest" => {
                serde_json::from_value::<tokens::IssueRequest>(example.clone()).map(drop)
            }
            _ => serde_json::from_value::<tokens::RevokeRequest>(example.clone()).map(drop),
        };
        parsed.unwrap_or_else(|e| panic!("{name} example: {e}"));
        // The schema refuses what the handlers refuse.
        let mut extra = example.clone();
        extra["unknown"] = json!(1);
        assert!(!v.is_valid(&extra), "{name} accepts an unknown member");
    }
    assert_eq!(
        doc["components"]["schemas"]["RevokeRequest"]["properties"]["reason"]["maxLength"],
        json!(loupe_schemas::token::MAX_REASON_LEN)
    );
    // The multipart form names exactly the parts the handler reads.
    let parts: BTreeSet<&str> = doc["components"]["schemas"]["CaptureForm"]["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected: BTreeSet<&str> = ["claims", "report"].into();
    expected.extend(ImageRole::ALL.iter().map(|r| r.as_str()));
    expected.extend(VideoRole::ALL.iter().map(|r| r.as_str()));
    assert_eq!(parts, expected);
}

#[test]
fn every_error_answer_is_a_problem_and_every_operation_can_fail() {
    let doc = openapi_document();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let responses = op["responses"].as_object().expect("responses");
            for status in ["500", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path}: no {status}"
                );
            }
            for (status, response) in responses {
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                let response = match response.get("$ref").and_then(Value::as_str) {
                    Some(r) => doc
                        .pointer(r.trim_start_matches('#'))
                        .expect("shared response"),
                    None => response,
                };
                let content = response["content"].as_object().expect("content");
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
                assert_eq!(
                    content["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
            }
        }
    }
}
