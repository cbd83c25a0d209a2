//! The OpenAPI 3.1 document of the API, generated from the code.
//!
//! Each handler's `#[utoipa::path]` attribute describes its operation
//! (path, parameters, bodies, every status with its content types); the
//! request and response types derive `utoipa::ToSchema`; [`ApiDoc`] lists
//! the handlers, and the router serves each at the path and method of its
//! attribute (see [`super::operations`]).
//!
//! The token claims and provenance have one source, the normative JSON
//! Schemas of `schemas/json/`: [`openapi_document`] embeds them verbatim
//! under `components/schemas` (`provenance`, `token`, `issuance`,
//! `problem`), and the generated parts refer to them by their `$id`
//! (`https://loupe.example/schemas/provenance.schema.json#/$defs/stone`).
//! In OpenAPI 3.1 a Schema Object's `$id` names it inside the document
//! (JSON Schema 2020-12 §8.2.1), so every reference resolves without
//! fetching anything: the `loupe.example` URIs are identifiers, nothing is
//! served there.

use std::borrow::Cow;

use loupe_schemas::token::{ImageRole, MediaRole as _, VideoRole};
use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::{log, ops, read, tokens};
use crate::problem::{PROBLEM_JSON, Problem};

/// The `$id` of `schemas/json/provenance.schema.json`.
pub(super) const PROVENANCE: &str = "https://loupe.example/schemas/provenance.schema.json";
/// The `$id` of `schemas/json/token.schema.json`.
pub(super) const TOKEN: &str = "https://loupe.example/schemas/token.schema.json";
/// The `$id` of `schemas/json/problem.schema.json`.
pub(super) const PROBLEM: &str = "https://loupe.example/schemas/problem.schema.json";

/// The normative schemas embedded under `components/schemas`: name, text.
pub(super) const NORMATIVE: [(&str, &str); 4] = [
    (
        "provenance",
        include_str!("../../../schemas/json/provenance.schema.json"),
    ),
    (
        "token",
        include_str!("../../../schemas/json/token.schema.json"),
    ),
    (
        "issuance",
        include_str!("../../../schemas/json/issuance.schema.json"),
    ),
    (
        "problem",
        include_str!("../../../schemas/json/problem.schema.json"),
    ),
];

/// The name of the lab credential's security scheme.
pub(super) const LAB_API_KEY: &str = "apiKey";

/// The API, as `utoipa` generates it: every operation of the router and
/// the schemas they use. [`openapi_document`] completes it with the
/// normative JSON Schemas.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Loupe issuer",
        description = "The lab-side Loupe service: issues provenance tokens (COSE_Sign1), logs them in an RFC 9162 Merkle log with C2SP checkpoints and tiles, and serves tokens, proofs, QR codes and the certified files. Errors are RFC 9457 problem+json. Write endpoints need a lab API key (`Authorization: Bearer loupe_sk_…`).\n\nThe token claims and provenance are described by the normative JSON Schemas of the Loupe repository (`schemas/json/`), embedded under `components/schemas` and referred to by their `$id` (`https://loupe.example/schemas/…`): these URIs are identifiers, nothing is served there.",
    ),
    paths(
        tokens::issue,
        tokens::revoke,
        read::token,
        read::proof,
        read::status,
        read::qr_svg,
        read::qr_png,
        read::media,
        log::checkpoint,
        log::consistency,
        log::tile,
        ops::issuer_description,
        ops::healthz,
        ops::metrics,
        ops::openapi,
    ),
    components(schemas(Problem)),
    modifiers(&LabApiKey, &SharedResponses),
    tags(
        (name = "tokens", description = "Issuing and revoking tokens (lab credential), and reading them: the token, its proof, its status, its QR code"),
        (name = "media", description = "The certified files, content-addressed"),
        (name = "log", description = "The transparency log: C2SP checkpoints and tiles, RFC 9162 consistency proofs"),
        (name = "operations", description = "The issuer's description for verifiers, health, metrics, this document"),
    ),
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document: [`ApiDoc`] with the normative JSON Schemas of
/// `schemas/json/` embedded under `components/schemas`, so the document is
/// self-contained and the schemas have one source.
#[must_use]
pub fn openapi_document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(components) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, text) in NORMATIVE {
            if let Ok(schema) = serde_json::from_str(text) {
                components.insert(name.to_owned(), schema);
            }
        }
    }
    doc
}

/// A reference to a normative schema or a part of it: `id` is its `$id`,
/// `pointer` a JSON pointer inside it (`""` for the whole schema).
fn normative(id: &str, pointer: &str) -> Ref {
    if pointer.is_empty() {
        Ref::new(id)
    } else {
        Ref::new(format!("{id}#{pointer}"))
    }
}

/// `reference` with a description.
fn described(mut reference: Ref, description: &str) -> Ref {
    description.clone_into(&mut reference.description);
    reference
}

/// A token id (`provenance.schema.json#/$defs/token_id`).
pub(super) fn token_id() -> Ref {
    normative(PROVENANCE, "/$defs/token_id")
}

/// A report file's digest (`provenance.schema.json#/$defs/file_digest`).
pub(super) fn file_digest() -> Ref {
    normative(PROVENANCE, "/$defs/file_digest")
}

/// The photos' digests (`provenance.schema.json#/properties/images`).
pub(super) fn images() -> Ref {
    normative(PROVENANCE, "/properties/images")
}

/// The videos' digests (`provenance.schema.json#/properties/videos`).
pub(super) fn videos() -> Ref {
    normative(PROVENANCE, "/properties/videos")
}

/// The stone's facts (`provenance.schema.json#/$defs/stone`).
pub(super) fn stone() -> Ref {
    normative(PROVENANCE, "/$defs/stone")
}

/// A report number, the token's `sub`
/// (`token.schema.json#/$defs/cwt_claims/properties/sub`).
pub(super) fn report_number() -> Ref {
    normative(TOKEN, "/$defs/cwt_claims/properties/sub")
}

/// The decoded token (`token.schema.json`).
pub(super) fn decoded_token() -> Ref {
    normative(TOKEN, "")
}

/// A C2SP `tlog-proof` bundle, as text.
pub(super) fn proof_bundle() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^c2sp\\.org/tlog-proof@v1\\n"))
        .description(Some(
            "The proof bundle in the C2SP tlog-proof text format: the leaf index, the inclusion proof and the signed checkpoint",
        ))
}

/// A C2SP `tlog-proof` bundle served as `text/plain`, for the document.
pub(super) enum ProofBundle {}

impl PartialSchema for ProofBundle {
    fn schema() -> RefOr<Schema> {
        proof_bundle().into()
    }
}

impl ToSchema for ProofBundle {}

/// Standard base64 bytes.
pub(super) fn base64_bytes(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_encoding("base64")
        .description(Some(description))
}

/// A problem as this API serves it: `problem.schema.json` (RFC 9457) and
/// the extension members some problem types add.
impl PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        let extensions = ObjectBuilder::new()
            .property(
                "field",
                ObjectBuilder::new().schema_type(Type::String).description(Some(
                    "`validation`: the input field at fault, as a path such as `stone.weight_mct` or `images[2].sha256`",
                )),
            )
            .property(
                "current_token",
                described(
                    token_id(),
                    "`active-token-exists`: the id of the active token",
                ),
            )
            .property(
                "limit",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some(
                        "`payload-too-large`: the limit in bytes, when known",
                    )),
            );
        AllOfBuilder::new()
            .item(normative(PROBLEM, ""))
            .item(extensions)
            .description(Some(
                "RFC 9457 problem details (`problem.schema.json`). `type` is `https://loupe.example/problems/` followed by a stable slug (`bad-request`, `validation`, `unauthorized`, `forbidden`, `not-found`, `method-not-allowed`, `not-acceptable`, `conflict`, `active-token-exists`, `payload-too-large`, `unsupported-media-type`, `too-many-requests`, `internal`, `unavailable`): branch on it, not on `title` or `detail`.",
            ))
            .into()
    }
}

impl ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }
}

/// The multipart form of `POST /v1/tokens`: a `claims` part and one file
/// part per role. It exists for the document only: the handler reads the
/// parts one by one as they stream in.
pub(super) enum CaptureForm {}

impl PartialSchema for CaptureForm {
    fn schema() -> RefOr<Schema> {
        let file = |what: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Binary,
                )))
                .description(Some(format!(
                    "{what}; the part's Content-Type must be its media type (not application/octet-stream). Stored as /media/{{sha256}}."
                )))
        };
        let mut form = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "The claims and the files: the service hashes each file while storing it and certifies its SHA-256, media type and size.",
            ))
            .property(
                "claims",
                described(
                    Ref::from_schema_name(tokens::MultipartClaims::name()),
                    "JSON: everything but the files",
                ),
            )
            .required("claims")
            .property("report", file("The report file"))
            .required("report");
        for role in ImageRole::ALL {
            form = form.property(role.as_str(), file(&format!("The {} photo", role.as_str())));
        }
        for role in VideoRole::ALL {
            form = form.property(role.as_str(), file(&format!("The {} video", role.as_str())));
        }
        form.into()
    }
}

impl ToSchema for CaptureForm {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            tokens::MultipartClaims::name().into_owned(),
            tokens::MultipartClaims::schema(),
        ));
        <tokens::MultipartClaims as ToSchema>::schemas(schemas);
    }
}

/// Declares the lab credential: `Authorization: Bearer loupe_sk_…` (see
/// [`crate::apikey`]).
#[derive(Debug)]
struct LabApiKey;

impl Modify for LabApiKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            LAB_API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("loupe_sk_ followed by 43 characters of base64url")
                    .description(Some(
                        "A lab API key created with `loupe-issuer apikey create`, sent as `Authorization: Bearer loupe_sk_…`; the issuer stores only its SHA-256",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds the answers every operation can give to the operations that do
/// not describe their own: 500 (a bug or a failing dependency) and 503
/// (too many requests in flight, or the request timed out).
#[derive(Debug)]
struct SharedResponses;

impl SharedResponses {
    const SHARED: [(&'static str, &'static str, &'static str); 2] = [
        (
            "500",
            "Internal",
            "Internal error: the details are logged under the incident id in `instance`, never returned",
        ),
        (
            "503",
            "Unavailable",
            "Unavailable (too many requests in flight, the request timed out, the database is down, the sequencer stopped); see Retry-After when present",
        ),
    ];
}

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description) in Self::SHARED {
            components
                .responses
                .insert(name.to_owned(), RefOr::T(problem_response(description)));
        }
        for item in openapi.paths.paths.values_mut() {
            let operations: [&mut Option<Operation>; 9] = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
                &mut item.query,
            ];
            let operations = operations
                .into_iter()
                .flatten()
                .chain(item.additional_operations.values_mut());
            for operation in operations {
                for (status, name, _) in Self::SHARED {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
        }
    }
}

/// A problem+json response.
fn problem_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            Content::new(Some(Ref::from_schema_name(Problem::name()))),
        )
        .build()
}

#[cfg(test)]
mod tests;
