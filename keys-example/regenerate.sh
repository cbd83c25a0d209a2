#!/bin/sh
# Regenerates every file in keys-example/ with openssl (and python3 for the
# note verifier key). EXAMPLE KEYS ONLY: NEVER USE THEM IN PRODUCTION.
#
# Usage: keys-example/regenerate.sh            (from anywhere)
# Needs: openssl >= 1.1.1 (Ed25519), python3.
set -eu

cd "$(dirname "$0")"

LOG_ORIGIN="lab.example/log"   # the log's origin line and note key name
LAB_DNS="lab.example"          # the lab certificate's CN and SAN
DAYS=3650                      # validity: 10 years from generation

umask 077
rm -f ./*.pem ./*.der ./*.vkey ./*.srl ./*.csr

# Ed25519 keys, PKCS#8 PEM, and their SubjectPublicKeyInfo PEM.
for k in issuer log root-ca; do
    openssl genpkey -algorithm ed25519 -out "$k.key.pem"
    openssl pkey -in "$k.key.pem" -pubout -out "$k.pub.pem"
done
umask 022
chmod 644 ./*.pem

# Root CA: self-signed, Ed25519.
openssl req -new -x509 -key root-ca.key.pem -days "$DAYS" \
    -subj "/O=Loupe Examples/CN=Loupe Example Root CA (NOT FOR PRODUCTION)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out root-ca.cert.pem

# Lab certificate: its key IS the issuer token-signing key.
openssl req -new -key issuer.key.pem \
    -subj "/O=Example Gem Lab (NOT FOR PRODUCTION)/CN=$LAB_DNS" \
    -out lab.csr
cat > lab.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectAltName=DNS:$LAB_DNS
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -in lab.csr -CA root-ca.cert.pem -CAkey root-ca.key.pem \
    -set_serial "0x$(openssl rand -hex 16)" -days "$DAYS" -extfile lab.ext \
    -out lab.cert.pem
rm -f lab.csr lab.ext

# DER copies and the chain (leaf first), as COSE x5chain carries it.
openssl x509 -in root-ca.cert.pem -outform DER -out root-ca.cert.der
openssl x509 -in lab.cert.pem -outform DER -out lab.cert.der
cat lab.cert.pem root-ca.cert.pem > lab-chain.pem

openssl verify -CAfile root-ca.cert.pem lab.cert.pem

# The log's note verifier key (C2SP signed-note, Ed25519 type 0x01):
#   <name>+<hex key id>+base64(0x01 || 32-byte public key)
#   key id = SHA-256(name || 0x0A || 0x01 || public key)[:4]
# The raw public key is the last 32 bytes of the DER SubjectPublicKeyInfo.
openssl pkey -in log.key.pem -pubout -outform DER | tail -c 32 > log.pub.raw
python3 - "$LOG_ORIGIN" log.pub.raw > log.vkey <<'PY'
import base64, hashlib, sys
name, raw = sys.argv[1], open(sys.argv[2], "rb").read()
assert len(raw) == 32
key = b"\x01" + raw
key_id = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
print(f"{name}+{key_id.hex()}+{base64.b64encode(key).decode()}")
PY
rm -f log.pub.raw

echo "regenerated in $(pwd):"
ls -1
