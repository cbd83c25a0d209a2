#!/usr/bin/env python3
"""Interop between loupe-schemas (Rust) and an independent COSE stack
(pycose 1.1.0, cbor2, cryptography).

    cose_interop.py check-rust DIR   # verify what `interop_emit` wrote to DIR
    cose_interop.py make DIR         # write pycose-made messages for `interop_check`

Exits 1 on the first mismatch. Driven by tests/interop/run.sh.
"""

import base64
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm, ContentType
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

TOKEN_CONTENT_TYPE = "application/vnd.loupe.token+cbor"
FAILURES = []


def check(ok, what):
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        FAILURES.append(what)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def payload_from_json(p):
    """The CBOR shape of a Provenance, from its JSON view (DESIGN.md Formats)."""

    def media(m):
        return {
            "role": m["role"],
            "sha256": bytes.fromhex(m["sha256"]),
            "media_type": m["media_type"],
            "size": m["size"],
        }

    out = {
        "report": {
            "sha256": bytes.fromhex(p["report"]["sha256"]),
            "media_type": p["report"]["media_type"],
            "size": p["report"]["size"],
        },
        "images": [media(m) for m in p["images"]],
        "videos": [media(m) for m in p.get("videos", [])],
        "stone": dict(p["stone"]),
    }
    out["stone"]["dimensions_um"] = list(p["stone"]["dimensions_um"])
    if "supersedes" in p:
        out["supersedes"] = b64url_decode(p["supersedes"])
    return out


def raw_verify(pub, message_bytes):
    """Verify a tagged COSE_Sign1 by hand: cbor2 + cryptography, no pycose."""
    obj = cbor2.loads(message_bytes)
    if not isinstance(obj, cbor2.CBORTag) or obj.tag != 18:
        return False, None
    protected, _unprotected, payload, signature = obj.value
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(signature, tbs)
        return True, cbor2.loads(protected)
    except InvalidSignature:
        return False, None


def check_rust(d):
    pub = bytes.fromhex((d / "pubkey.hex").read_text().strip())
    raw = (d / "token.cbor").read_bytes()
    prov = json.loads((d / "provenance.json").read_text())
    claims = json.loads((d / "claims.json").read_text())

    # pycose decodes and verifies the alg -8 token.
    msg = Sign1Message.decode(raw)
    msg.key = OKPKey(crv=Ed25519, x=pub)
    check(msg.verify_signature(), "pycose verifies the Rust token (alg -8)")
    check(msg.phdr.get(Algorithm) is EdDSA, "alg is EdDSA (-8)")
    check(msg.phdr.get(ContentType) == TOKEN_CONTENT_TYPE, "content type")
    check(
        msg.phdr.get(KID) == hashlib.sha256(pub).digest()[:16],
        "kid = first 16 bytes of SHA-256(public key)",
    )
    check(msg.uhdr == {}, "unprotected header is empty")
    cwt = msg.phdr.get(15)
    check(
        cwt == {1: claims["iss"], 2: claims["sub"], 6: claims["iat"], 7: bytes.fromhex(claims["cti"])},
        "CWT claims (header 15) match claims.json",
    )

    # The payload decodes to the JSON view, and is canonical CBOR.
    payload = cbor2.loads(msg.payload)
    check(payload == payload_from_json(prov), "payload decodes to provenance.json")
    check(cbor2.dumps(payload, canonical=True) == msg.payload, "payload is canonical CBOR")
    check(cbor2.dumps(cbor2.loads(raw), canonical=True) == raw, "whole token is canonical CBOR")

    # Token id = SHA-256 of the bytes, base64url without padding.
    token_id = (d / "token_id.txt").read_text().strip()
    check(b64url(hashlib.sha256(raw).digest()) == token_id, "token id = SHA-256(token bytes)")
    check(len(token_id) == 43, "token id is 43 characters")

    # A flipped signature byte fails.
    bad = bytearray(raw)
    bad[-1] ^= 1
    bad_msg = Sign1Message.decode(bytes(bad))
    bad_msg.key = OKPKey(crv=Ed25519, x=pub)
    check(not bad_msg.verify_signature(), "pycose rejects a flipped signature byte")

    # alg -19: pycose 1.1.0 does not know it; verify by hand.
    ok, phdr = raw_verify(pub, (d / "token_ed25519.cbor").read_bytes())
    check(ok and phdr.get(1) == -19, "cbor2+cryptography verify the alg -19 token")

    # Receipts live in the unprotected header and do not change the id.
    with_receipts = cbor2.loads((d / "token_receipts.cbor").read_bytes())
    p, u, pl, sig = with_receipts.value
    check(u == {394: [b"receipt one", b"receipt two"]}, "receipts at label 394")
    stripped = cbor2.dumps(cbor2.CBORTag(18, [p, {}, pl, sig]))
    check(stripped == raw, "stripping receipts gives the logged bytes")
    check(b64url(hashlib.sha256(stripped).digest()) == token_id, "id unchanged by receipts")
    ok, _ = raw_verify(pub, (d / "token_receipts.cbor").read_bytes())
    check(ok, "token with receipts still verifies")


def make(d):
    sk = Ed25519PrivateKey.generate()
    priv = sk.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pub = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = OKPKey(crv=Ed25519, d=priv, x=pub)
    (d / "pycose_pubkey.hex").write_text(pub.hex())

    # (1) A plain COSE_Sign1, alg -8.
    payload = b"This is the content, signed by pycose."
    msg = Sign1Message(phdr={Algorithm: EdDSA}, uhdr={KID: b"pycose"}, payload=payload)
    msg.key = key
    (d / "pycose_sign1.cbor").write_bytes(msg.encode())
    (d / "pycose_payload.bin").write_bytes(payload)

    # (2) A full Loupe token: pycose signs, cbor2 encodes the payload
    # canonically; header entries are given in sorted label order.
    prov = json.loads((d / "provenance.json").read_text())
    token_payload = cbor2.dumps(payload_from_json(prov), canonical=True)
    phdr = {
        Algorithm: EdDSA,
        ContentType: TOKEN_CONTENT_TYPE,
        KID: hashlib.sha256(pub).digest()[:16],
        15: {1: "lab.example", 2: "R-PYCOSE-1", 6: int(time.time()), 7: os.urandom(16)},
    }
    token = Sign1Message(phdr=phdr, payload=token_payload)
    token.key = key
    raw = token.encode()
    check(cbor2.dumps(cbor2.loads(raw), canonical=True) == raw, "pycose token is canonical CBOR")
    (d / "pycose_token.cbor").write_bytes(raw)
    (d / "pycose_token_id.txt").write_text(b64url(hashlib.sha256(raw).digest()))


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("check-rust", "make"):
        print(__doc__, file=sys.stderr)
        return 2
    d = Path(sys.argv[2])
    (check_rust if sys.argv[1] == "check-rust" else make)(d)
    if FAILURES:
        print(f"{len(FAILURES)} interop check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
