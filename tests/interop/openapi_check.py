"""Validates the issuer's OpenAPI document (issuer/examples/openapi_emit.rs)
with an independent validator, openapi-spec-validator: the OpenAPI 3.1
structure, the schemas, and every $ref followed.

The document is self-contained: the normative JSON Schemas are embedded
under components/schemas and referred to by their $id, which names them
inside the document (OpenAPI 3.1, JSON Schema 2020-12 section 8.2.1).
openapi-spec-validator does not index embedded $ids (it would fetch the
URI), so it is given a retriever that serves each embedded schema by its
$id and refuses every other URI: nothing is fetched, and a reference to
anything outside the document fails.

    python openapi_check.py issuer.openapi.json
"""

import json
import sys

from jsonschema_path import SchemaPath
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

# The document has no $id of its own; a base that is not hierarchical makes
# a relative reference outside any embedded schema fail instead of naming
# some URL.
BASE = "urn:loupe:issuer:openapi"


class Embedded:
    """Serves the schemas embedded in the document, by their $id."""

    def __init__(self, doc):
        self.by_id = {}
        for name, schema in doc["components"]["schemas"].items():
            if isinstance(schema, dict) and "$id" in schema:
                if schema["$id"] in self.by_id:
                    raise SystemExit(f"FAIL: two schemas have the $id {schema['$id']}")
                self.by_id[schema["$id"]] = schema
        self.served = set()

    def __call__(self, uri):
        if uri not in self.by_id:
            raise LookupError(f"{uri} is not a schema embedded in the document")
        self.served.add(uri)
        return self.by_id[uri]


def main(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("openapi") != "3.1.0":
        raise SystemExit(f"FAIL: openapi is {doc.get('openapi')!r}, not 3.1.0")
    embedded = Embedded(doc)
    handlers = {scheme: embedded for scheme in ("<all_urls>", "http", "https", "file", "urn")}
    spec = SchemaPath.from_dict(doc, base_uri=BASE, handlers=handlers)
    try:
        errors = list(OpenAPIV31SpecValidator(spec).iter_errors())
    except Exception as e:  # an unresolvable reference stops the walk
        errors = [f"{type(e).__name__}: {e}"]
    for e in errors:
        print(f"FAIL: {e}", file=sys.stderr)
    if errors:
        raise SystemExit(1)
    # Not vacuous: the operations' references reached the embedded schemas.
    if not embedded.served:
        raise SystemExit("FAIL: no embedded schema was referenced")
    print(
        f"openapi: {path} is valid OpenAPI 3.1 "
        f"({len(doc['paths'])} paths; embedded schemas followed: {len(embedded.served)})"
    )


if __name__ == "__main__":
    main(sys.argv[1])
