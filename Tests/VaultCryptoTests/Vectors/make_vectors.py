#!/usr/bin/env python3
"""Generate format-vectors.json: cross-language test vectors for schema/FORMAT.md.

Requires PyNaCl (`pip install pynacl`). Every input is a fixed constant below, so the
output is deterministic except for crypto_box_seal outputs (sealed boxes use a fresh
ephemeral key pair every time). For each sealed box the vectors carry the recipient's
secret key so any reader can open it.

To keep the file (and the hex quoted in schema/FORMAT.md) stable, a re-run reuses the
sealed boxes of an existing format-vectors.json when they still open, with the given
secret key, to exactly the plaintext this script would seal. Pass --fresh to reseal.

The script checks itself before writing: it opens every sealed box it made, decrypts
every AEAD ciphertext, verifies every signature and re-derives every key id.

Usage: python3 make_vectors.py [--fresh] [--out PATH]
"""

import base64
import hashlib
import json
import os
import struct
import sys

import nacl
import nacl.bindings as sodium

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "format-vectors.json")


# ---------------------------------------------------------------- primitives

def canon(*fields):
    """canon(f1, ..., fn): for each field, u32 big-endian length then the bytes."""
    out = bytearray()
    for f in fields:
        if isinstance(f, str):
            f = f.encode("utf-8")
        if not isinstance(f, (bytes, bytearray)):
            raise TypeError("canon fields are bytes or str, got %r" % type(f))
        out += struct.pack(">I", len(f))
        out += f
    return bytes(out)


def parse_canon(data):
    """Inverse of canon; refuses trailing or truncated bytes."""
    fields, i = [], 0
    while i < len(data):
        if i + 4 > len(data):
            raise ValueError("truncated length")
        (n,) = struct.unpack(">I", data[i:i + 4])
        i += 4
        if i + n > len(data):
            raise ValueError("truncated field")
        fields.append(data[i:i + n])
        i += n
    return fields


def u32be(n):
    return struct.pack(">I", n)


def u64be(n):
    return struct.pack(">Q", n)


def blake2b(data, size=32, key=b""):
    # hashlib.blake2b(digest_size=n, key=k) == libsodium crypto_generichash(n, data, k)
    return hashlib.blake2b(data, digest_size=size, key=key).digest()


def key_id(public_key):
    """16-byte BLAKE2b (crypto_generichash, outlen 16, no key) of a 32-byte public key."""
    assert len(public_key) == 32
    return blake2b(public_key, 16)


def x25519_public(secret):
    return sodium.crypto_scalarmult_base(secret)


def ed25519_keypair(seed):
    pk, sk = sodium.crypto_sign_seed_keypair(seed)
    return pk, sk


def sign_detached(message, sk):
    return sodium.crypto_sign(message, sk)[:64]


def verify_detached(signature, message, pk):
    # raises nacl.exceptions.BadSignatureError on failure
    sodium.crypto_sign_open(signature + message, pk)


def aead_encrypt(plaintext, aad, nonce, key):
    return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)


def aead_decrypt(ciphertext, aad, nonce, key):
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key)


def fingerprint(x25519_pk, ed25519_pk):
    """First 16 bytes of BLAKE2b-256(x25519_pk || ed25519_pk), 8 groups of 4 hex digits."""
    h = blake2b(x25519_pk + ed25519_pk, 32)[:16].hex()
    return " ".join(h[i:i + 4] for i in range(0, 32, 4))


def uuid_str(raw):
    h = raw.hex()
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def b64(data):
    return base64.b64encode(data).decode("ascii")


def b64url_nopad(data):
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


H = bytes.fromhex


# ---------------------------------------------------------------- fixed inputs

VAULT_ID = H("5f0c3a9e8b7d4e21a6c4d2b1e0f9a8c7")           # UUIDv4
DESK_ID = H("2b9e6f14c3d84a7e9f01b2c3d4e5f607")            # UUIDv4
CASE_ID = H("0193512b18187a3b8c1d2e3f40516273")            # UUIDv7, 1732233599000 ms
USER_ID = H("8d3f1e2a4b5c4d6e8f90a1b2c3d4e5f6")            # UUIDv4 (kenji)
SENT_AT_MS = 1732233600123                                  # 2024-11-22T00:00:00.123Z
# UUIDv7 message id: 48-bit ms timestamp = SENT_AT_MS (0193512b1c7b), version 7, variant 10
MESSAGE_ID = H("0193512b1c7b7c4d9e2fa1b2c3d4e5f6")

# X25519 secrets (32 bytes; crypto_box_keypair would make these at random)
EPOCH_SECRET = H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")   # RFC 7748 Alice
KENJI_X_SECRET = H("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")  # RFC 7748 Bob
AIKO_X_SECRET = H("a8abababababababababababababababababababababababababababababab6b")
QUEUE_SECRET = H("1111111111111111111111111111111111111111111111111111111111111111")
OVERSIGHT_SECRET = H("2222222222222222222222222222222222222222222222222222222222222222")
RECOVERY_SECRET = H("3333333333333333333333333333333333333333333333333333333333333333")

# Ed25519 seeds
VAULT_SEED = H("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")     # RFC 8032 test 1
KENJI_ED_SEED = H("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")  # RFC 8032 test 2
AIKO_ED_SEED = H("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")   # RFC 8032 test 3

MESSAGE_KEY = H("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
MESSAGE_NONCE = H("404142434445464748494a4b4c4d4e4f5051525354555657")
MESSAGE_TEXT = "こんにちは。学校のことで相談したいです 🙏"

USERNAME = "kenji"
ROLE = "counselor"
PASSPHRASE = "correct horse 馬 battery"
SALT = H("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
OPS_LIMIT = 1
MEM_LIMIT = 1048576
USER_KEYS_NONCE = H("b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7")

DESK_NAME = "いじめ相談"
MANIFEST_VERSION = 2

PSEUDONYM_KEY = H("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a")
CHANNEL_USER = "U4af4980629a1b2c3d4e5f60718293a4b"

TOKEN_RANDOM = H("f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff")

BREAKGLASS_REASON = "緊急: 本人の安全確認のため (imminent risk)"

# Envelope version 2 (FORMAT.md §1.8): the sender session's ephemeral X25519 secret and the wrap nonce
SESSION_SECRET = H("4444444444444444444444444444444444444444444444444444444444444444")
MESSAGE_KEY_NONCE = H("606162636465666768696a6b6c6d6e6f7071727374757677")
LABEL_SESSION_ID = "consultvault/session-id/v2"
LABEL_SESSION_KEY = "consultvault/session-key/v2"
LABEL_MESSAGE_KEY_V2 = "consultvault/message-key/v2"
FORMAT_VERSION_2 = b"\x02"

LABEL_MESSAGE_KEY = "consultvault/message-key/v1"
LABEL_DESK_QUEUE = "consultvault/desk-queue/v1"
LABEL_USER_KEYS = "consultvault/user-keys/v1"
LABEL_ATTESTATION = "consultvault/user-attestation/v1"
LABEL_CASE_EPOCH = "consultvault/case-epoch/v1"
LABEL_MANIFEST = "consultvault/desk-manifest/v1"
FORMAT_VERSION = b"\x01"


# ---------------------------------------------------------------- sealing with reuse

class Sealer:
    """crypto_box_seal, reusing a previous run's output when it still opens correctly."""

    def __init__(self, previous):
        self.previous = previous
        self.made = []  # (sealed, pk, sk, plaintext) for the self-check

    def seal(self, path, plaintext, pk, sk):
        prev = self.previous
        for p in path:
            prev = prev.get(p) if isinstance(prev, dict) else (
                prev[p] if isinstance(prev, list) and isinstance(p, int) and p < len(prev) else None)
            if prev is None:
                break
        sealed = None
        if isinstance(prev, str) and prev:
            try:
                candidate = bytes.fromhex(prev)
                if sodium.crypto_box_seal_open(candidate, pk, sk) == plaintext:
                    sealed = candidate
            except Exception:
                sealed = None
        if sealed is None:
            sealed = sodium.crypto_box_seal(plaintext, pk)
        self.made.append((sealed, pk, sk, plaintext))
        return sealed


# ---------------------------------------------------------------- vectors

def build(previous):
    sealer = Sealer(previous)
    checks = []  # callables run after building

    # --- canonical encoding
    canonical_cases = [
        [],
        [b""],
        [b"\x01"],
        [b"", b"abc"],
        [b"\x01", "inbound".encode(), "".encode(), "相談".encode()],
        [u64be(SENT_AT_MS), u32be(1)],
    ]
    canonical = [{"fields": [f.hex() for f in fs], "encoded": canon(*fs).hex()} for fs in canonical_cases]

    # --- key pairs
    epoch_pk = x25519_public(EPOCH_SECRET)
    kenji_x_pk = x25519_public(KENJI_X_SECRET)
    aiko_x_pk = x25519_public(AIKO_X_SECRET)
    queue_pk = x25519_public(QUEUE_SECRET)
    oversight_pk = x25519_public(OVERSIGHT_SECRET)
    recovery_pk = x25519_public(RECOVERY_SECRET)
    vault_pk, vault_sk = ed25519_keypair(VAULT_SEED)
    kenji_ed_pk, kenji_ed_sk = ed25519_keypair(KENJI_ED_SEED)
    aiko_ed_pk, aiko_ed_sk = ed25519_keypair(AIKO_ED_SEED)

    epoch_kid = key_id(epoch_pk)
    key_ids = [{"public_key": pk.hex(), "key_id": key_id(pk).hex()}
               for pk in (epoch_pk, queue_pk, kenji_ed_pk)]

    # --- 1. message envelope
    direction, kind, author = "inbound", "text", "channel"
    plaintext = json.dumps({"text": MESSAGE_TEXT}, ensure_ascii=False).encode("utf-8")
    aad = canon(FORMAT_VERSION, MESSAGE_ID, CASE_ID, epoch_kid, direction, kind, author, u64be(SENT_AT_MS))
    body = MESSAGE_NONCE + aead_encrypt(plaintext, aad, MESSAGE_NONCE, MESSAGE_KEY)
    key_plaintext = canon(LABEL_MESSAGE_KEY, MESSAGE_ID, epoch_kid, MESSAGE_KEY)
    key = sealer.seal(["envelope", "key"], key_plaintext, epoch_pk, EPOCH_SECRET)
    envelope_hash = blake2b(canon(aad, body, key), 32)
    envelope = {
        "message_id": MESSAGE_ID.hex(), "case_id": CASE_ID.hex(),
        "epoch_public_key": epoch_pk.hex(), "epoch_secret_key": EPOCH_SECRET.hex(),
        "epoch_key_id": epoch_kid.hex(), "direction": direction, "kind": kind, "author": author,
        "sent_at_ms": SENT_AT_MS, "plaintext": plaintext.hex(), "message_key": MESSAGE_KEY.hex(),
        "nonce": MESSAGE_NONCE.hex(), "aad": aad.hex(), "body": body.hex(), "key": key.hex(),
        "key_plaintext": key_plaintext.hex(), "envelope_hash": envelope_hash.hex(),
    }

    def check_envelope():
        # the reader's path: open key, check the labelled blob, rebuild AAD, decrypt
        w = sodium.crypto_box_seal_open(key, epoch_pk, EPOCH_SECRET)
        f = parse_canon(w)
        assert len(f) == 4 and f[0] == LABEL_MESSAGE_KEY.encode() and f[1] == MESSAGE_ID \
            and f[2] == epoch_kid and len(f[3]) == 32, "message-key blob"
        aad2 = canon(FORMAT_VERSION, MESSAGE_ID, CASE_ID, epoch_kid, direction, kind, author, u64be(SENT_AT_MS))
        assert aead_decrypt(body[24:], aad2, body[:24], f[3]) == plaintext
        assert json.loads(plaintext.decode("utf-8")) == {"text": MESSAGE_TEXT}
        assert (int.from_bytes(MESSAGE_ID[:6], "big") == SENT_AT_MS and MESSAGE_ID[6] >> 4 == 7
                and MESSAGE_ID[8] >> 6 == 2), "UUIDv7"
    checks.append(check_envelope)

    # --- 1.8 message envelope, version 2 (sender session); same message, key and body nonce as above
    session_pk = x25519_public(SESSION_SECRET)
    session_id = blake2b(canon(LABEL_SESSION_ID, CASE_ID, epoch_kid, session_pk), 16)
    shared = sodium.crypto_scalarmult(SESSION_SECRET, epoch_pk)
    session_key = blake2b(canon(LABEL_SESSION_KEY, session_id, session_pk, epoch_pk), 32, key=shared)
    aad_v2 = canon(FORMAT_VERSION_2, MESSAGE_ID, CASE_ID, epoch_kid, session_id, direction, kind, author,
                   u64be(SENT_AT_MS))
    body_v2 = MESSAGE_NONCE + aead_encrypt(plaintext, aad_v2, MESSAGE_NONCE, MESSAGE_KEY)
    key_ad_v2 = canon(LABEL_MESSAGE_KEY_V2, aad_v2)
    key_v2 = MESSAGE_KEY_NONCE + aead_encrypt(MESSAGE_KEY, key_ad_v2, MESSAGE_KEY_NONCE, session_key)
    envelope_v2 = {
        "message_id": MESSAGE_ID.hex(), "case_id": CASE_ID.hex(),
        "epoch_public_key": epoch_pk.hex(), "epoch_secret_key": EPOCH_SECRET.hex(),
        "epoch_key_id": epoch_kid.hex(), "direction": direction, "kind": kind, "author": author,
        "sent_at_ms": SENT_AT_MS, "plaintext": plaintext.hex(), "message_key": MESSAGE_KEY.hex(),
        "nonce": MESSAGE_NONCE.hex(), "session_secret_key": SESSION_SECRET.hex(),
        "session_public_key": session_pk.hex(), "session_id": session_id.hex(), "shared_secret": shared.hex(),
        "session_key": session_key.hex(), "key_nonce": MESSAGE_KEY_NONCE.hex(), "aad": aad_v2.hex(),
        "body": body_v2.hex(), "key_ad": key_ad_v2.hex(), "key": key_v2.hex(),
        "envelope_hash": blake2b(canon(aad_v2, body_v2, key_v2), 32).hex(),
    }

    def check_envelope_v2():
        # the reader's path: the epoch secret and the stored session public key give the same session key
        shared_r = sodium.crypto_scalarmult(EPOCH_SECRET, session_pk)
        assert shared_r == shared
        assert blake2b(canon(LABEL_SESSION_ID, CASE_ID, epoch_kid, session_pk), 16) == session_id
        key_r = blake2b(canon(LABEL_SESSION_KEY, session_id, session_pk, epoch_pk), 32, key=shared_r)
        k = aead_decrypt(key_v2[24:], key_ad_v2, key_v2[:24], key_r)
        assert k == MESSAGE_KEY and len(key_v2) == 72
        assert aead_decrypt(body_v2[24:], aad_v2, body_v2[:24], k) == plaintext
    checks.append(check_envelope_v2)

    # --- 2. labelled wrap: desk queue secret sealed to kenji's user X25519 key
    queue_kid = key_id(queue_pk)
    wrap_plaintext = canon(LABEL_DESK_QUEUE, DESK_ID, queue_kid, QUEUE_SECRET)
    wrap_sealed = sealer.seal(["labelled_wrap", "sealed"], wrap_plaintext, kenji_x_pk, KENJI_X_SECRET)
    labelled_wrap = {
        "label": LABEL_DESK_QUEUE, "scope": DESK_ID.hex(), "key_id": queue_kid.hex(),
        "secret": QUEUE_SECRET.hex(), "plaintext": wrap_plaintext.hex(),
        "recipient_secret_key": KENJI_X_SECRET.hex(), "recipient_public_key": kenji_x_pk.hex(),
        "sealed": wrap_sealed.hex(),
    }

    def check_wrap():
        f = parse_canon(sodium.crypto_box_seal_open(wrap_sealed, kenji_x_pk, KENJI_X_SECRET))
        assert len(f) == 4 and f[0] == LABEL_DESK_QUEUE.encode() and f[1] == DESK_ID and len(f[3]) == 32
        assert key_id(sodium.crypto_scalarmult_base(f[3])) == f[2] == queue_kid, "recomputed key id"
    checks.append(check_wrap)

    # --- 3. user keys
    kek = sodium.crypto_pwhash_alg(32, PASSPHRASE.encode("utf-8"), SALT, OPS_LIMIT, MEM_LIMIT,
                                   sodium.crypto_pwhash_ALG_ARGON2ID13)
    uk_aad = canon(FORMAT_VERSION, LABEL_USER_KEYS, USER_ID, key_id(kenji_x_pk), key_id(kenji_ed_pk))
    uk_plain = canon(KENJI_X_SECRET, KENJI_ED_SEED)
    wrapped = USER_KEYS_NONCE + aead_encrypt(uk_plain, uk_aad, USER_KEYS_NONCE, kek)
    att_msg = canon(LABEL_ATTESTATION, USER_ID, USERNAME, ROLE, kenji_x_pk, kenji_ed_pk)
    attestation = sign_detached(att_msg, vault_sk)
    user_keys = {
        "user_id": USER_ID.hex(), "username": USERNAME, "role": ROLE, "passphrase": PASSPHRASE,
        "salt": SALT.hex(), "ops_limit": OPS_LIMIT, "mem_limit": MEM_LIMIT, "kek": kek.hex(),
        "x25519_secret": KENJI_X_SECRET.hex(), "x25519_public": kenji_x_pk.hex(),
        "ed25519_seed": KENJI_ED_SEED.hex(), "ed25519_public": kenji_ed_pk.hex(),
        "nonce": USER_KEYS_NONCE.hex(), "aad": uk_aad.hex(), "wrapped": wrapped.hex(),
        "fingerprint": fingerprint(kenji_x_pk, kenji_ed_pk),
        "vault_seed": VAULT_SEED.hex(), "vault_public": vault_pk.hex(),
        "attestation_message": att_msg.hex(), "attestation": attestation.hex(),
    }

    def check_user_keys():
        f = parse_canon(aead_decrypt(wrapped[24:], uk_aad, wrapped[:24], kek))
        assert len(f) == 2 and len(f[0]) == 32 and len(f[1]) == 32
        assert x25519_public(f[0]) == kenji_x_pk and ed25519_keypair(f[1])[0] == kenji_ed_pk
        verify_detached(attestation, att_msg, vault_pk)
    checks.append(check_user_keys)

    # --- 4. case epoch signature (epoch 1 of the envelope's case, same key pair)
    epoch_n = 1
    epoch_msg = canon(LABEL_CASE_EPOCH, DESK_ID, CASE_ID, u32be(epoch_n), epoch_pk)
    epoch_sig = sign_detached(epoch_msg, vault_sk)
    epoch_signature = {
        "desk_id": DESK_ID.hex(), "case_id": CASE_ID.hex(), "epoch": epoch_n,
        "public_key": epoch_pk.hex(), "message": epoch_msg.hex(),
        "vault_seed": VAULT_SEED.hex(), "signature": epoch_sig.hex(),
    }
    checks.append(lambda: verify_detached(epoch_sig, epoch_msg, vault_pk))

    # --- 5. desk manifest, version 2, signed by supervisor aiko (a member)
    members = [  # deliberately unsorted
        {"username": "kenji", "role": "counselor", "x25519_pk": kenji_x_pk.hex(), "ed25519_pk": kenji_ed_pk.hex()},
        {"username": "aiko", "role": "supervisor", "x25519_pk": aiko_x_pk.hex(), "ed25519_pk": aiko_ed_pk.hex()},
    ]
    sorted_members = sorted(members, key=lambda m: m["username"].encode("utf-8"))
    members_field = canon(*[canon(m["username"], m["role"], H(m["x25519_pk"]), H(m["ed25519_pk"]))
                            for m in sorted_members])
    relay_pk = b""
    manifest_body = canon(LABEL_MANIFEST, DESK_ID, DESK_NAME, u64be(MANIFEST_VERSION), queue_pk,
                          oversight_pk, relay_pk, recovery_pk, members_field)
    manifest_sig = sign_detached(manifest_body, aiko_ed_sk)
    manifest = {
        "desk_id": DESK_ID.hex(), "name": DESK_NAME, "version": MANIFEST_VERSION,
        "queue_pk": queue_pk.hex(), "oversight_pk": oversight_pk.hex(), "relay_pk": relay_pk.hex(),
        "recovery_pk": recovery_pk.hex(), "members": members, "body": manifest_body.hex(),
        "signer_seed": AIKO_ED_SEED.hex(), "signature": manifest_sig.hex(),
    }

    def check_manifest():
        signer = next(m for m in members if m["username"] == "aiko")
        assert signer["role"] == "supervisor"
        verify_detached(manifest_sig, manifest_body, H(signer["ed25519_pk"]))
        f = parse_canon(manifest_body)
        assert len(f) == 9 and [parse_canon(m)[0] for m in parse_canon(f[8])] == [b"aiko", b"kenji"]
    checks.append(check_manifest)

    # --- 6. access log chain
    case_target = "case:" + uuid_str(CASE_ID)
    # reason sealed (vector only) to kenji's X25519 key, whose secret is labelled_wrap.recipient_secret_key
    reason_sealed = sealer.seal(["audit_chain", "entries", 2, "reason_sealed"],
                                BREAKGLASS_REASON.encode("utf-8"), kenji_x_pk, KENJI_X_SECRET)
    raw_entries = [
        dict(seq=1, time_ms=SENT_AT_MS + 412, actor="line-relay-1", role="relay", action="relay.write",
             target=case_target, outcome="allowed", request_id="6b1d2f3e-4a5b-4c6d-8e7f-8091a2b3c4d5",
             envelope_hash=envelope_hash, reason_sealed=b""),
        dict(seq=2, time_ms=SENT_AT_MS + 95000, actor="kenji", role="counselor", action="transcript.read",
             target=case_target, outcome="allowed", request_id="0c9f8e7d-6c5b-4a49-b837-261504f3e2d1",
             envelope_hash=b"", reason_sealed=b""),
        dict(seq=3, time_ms=SENT_AT_MS + 180250, actor="aiko", role="supervisor", action="breakglass.start",
             target=case_target, outcome="allowed", request_id="f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9",
             envelope_hash=b"", reason_sealed=reason_sealed),
    ]
    entries, prev = [], bytes(32)
    for e in raw_entries:
        c = canon(u64be(e["seq"]), u64be(e["time_ms"]), e["actor"], e["role"], e["action"], e["target"],
                  e["outcome"], e["request_id"], e["envelope_hash"], e["reason_sealed"])
        prev = blake2b(prev + c, 32)
        entries.append({
            "seq": e["seq"], "time_ms": e["time_ms"], "actor": e["actor"], "role": e["role"],
            "action": e["action"], "target": e["target"], "outcome": e["outcome"],
            "request_id": e["request_id"], "envelope_hash": e["envelope_hash"].hex(),
            "reason_sealed": e["reason_sealed"].hex(), "canonical": c.hex(), "hash": prev.hex(),
        })

    def check_chain():
        h = bytes(32)
        for e in entries:
            h = blake2b(h + H(e["canonical"]), 32)
            assert h.hex() == e["hash"]
    checks.append(check_chain)

    # --- 7. routing pseudonym
    routing_id = blake2b(canon(DESK_ID, CHANNEL_USER), 32, key=PSEUDONYM_KEY)
    routing = {"pseudonym_key": PSEUDONYM_KEY.hex(), "desk_id": DESK_ID.hex(),
               "channel_user": CHANNEL_USER, "routing_id": routing_id.hex()}

    def check_routing():
        # hashlib keyed BLAKE2b == libsodium crypto_generichash with a key
        alt = sodium.crypto_generichash_blake2b_salt_personal(canon(DESK_ID, CHANNEL_USER), digest_size=32,
                                                             key=PSEUDONYM_KEY)
        assert alt == routing_id
    checks.append(check_routing)

    # --- 9. verifier key (vault-signing.pub line)
    name = "consultvault/" + uuid_str(VAULT_ID)
    keyhash = hashlib.sha256(name.encode("utf-8") + b"\n" + b"\x01" + vault_pk).digest()[:4].hex()
    line = "%s+%s+%s" % (name, keyhash, b64(b"\x01" + vault_pk))
    verifier_key = {"vault_id": uuid_str(VAULT_ID), "seed": VAULT_SEED.hex(),
                    "public_key": vault_pk.hex(), "line": line}

    def check_verifier():
        n, kh, k = line.split("+", 2)  # base64 may itself contain "+"
        raw = base64.b64decode(k, validate=True)
        assert raw[0] == 1 and raw[1:] == vault_pk and len(raw) == 33
        assert hashlib.sha256(n.encode() + b"\n" + raw).digest()[:4].hex() == kh
    checks.append(check_verifier)

    # --- 6.3-6.6 checkpoint note over the chain above, signed by the vault key; export lines
    cp_time = SENT_AT_MS + 239877                                 # 2024-11-22T00:04:00Z
    cp_text = "%s\n%d\n%s\ntime %d\n" % (name, entries[-1]["seq"], b64(H(entries[-1]["hash"])), cp_time)
    cp_sig = sign_detached(cp_text.encode("utf-8"), vault_sk)
    cp_note = cp_text + "\n" + "\u2014 %s %s\n" % (name, b64(bytes.fromhex(keyhash) + cp_sig))

    def export_line(e):
        return json.dumps({
            "type": "entry", "seq": e["seq"], "time_ms": e["time_ms"], "actor": e["actor"], "role": e["role"],
            "action": e["action"], "target": e["target"], "outcome": e["outcome"], "request_id": e["request_id"],
            "envelope_hash": e["envelope_hash"] or None,
            "reason_sealed": b64(H(e["reason_sealed"])) if e["reason_sealed"] else None, "hash": e["hash"],
        }, ensure_ascii=False, separators=(",", ":"))
    export_lines = [export_line(e) for e in entries]
    export_lines.append(json.dumps({"type": "checkpoint", "note": cp_note}, ensure_ascii=False,
                                   separators=(",", ":")))
    checkpoint = {"time_ms": cp_time, "text": cp_text, "signature": cp_sig.hex(), "note": cp_note,
                  "export": "\n".join(export_lines) + "\n"}

    def check_checkpoint():
        verify_detached(cp_sig, cp_text.encode("utf-8"), vault_pk)
        body, sigs = cp_note.split("\n\n", 1)
        dash, signer, sig64 = sigs.rstrip("\n").split(" ")
        raw = base64.b64decode(sig64, validate=True)
        assert dash == "\u2014" and signer == name and raw[:4].hex() == keyhash and raw[4:] == cp_sig
        assert body + "\n" == cp_text
    checks.append(check_checkpoint)

    # --- 8. token hash
    token = "cvr_" + b64url_nopad(TOKEN_RANDOM)
    token_hash = {"token": token, "hash": blake2b(token.encode("utf-8"), 32).hex()}

    def check_token():
        assert len(token) == 4 + 43 and "=" not in token
        assert base64.urlsafe_b64decode(token[4:] + "=") == TOKEN_RANDOM
    checks.append(check_token)

    # generic checks: every key id vector, every canonical vector round-trips
    def check_misc():
        for k in key_ids:
            assert sodium.crypto_generichash_blake2b_salt_personal(H(k["public_key"]), digest_size=16).hex() \
                == k["key_id"]
        for c in canonical:
            assert [f.hex() for f in parse_canon(H(c["encoded"]))] == c["fields"]
        # every sealed box this run made (fresh or reused) opens with the given secret key
        for sealed, pk, sk, pt in sealer.made:
            assert x25519_public(sk) == pk
            assert sodium.crypto_box_seal_open(sealed, pk, sk) == pt
            assert len(sealed) == len(pt) + 48
    checks.append(check_misc)

    vectors = {
        "canonical": canonical,
        "key_id": key_ids,
        "envelope": envelope,
        "envelope_v2": envelope_v2,
        "labelled_wrap": labelled_wrap,
        "user_keys": user_keys,
        "epoch_signature": epoch_signature,
        "manifest": manifest,
        "audit_chain": {"entries": entries},
        "routing": routing,
        "verifier_key": verifier_key,
        "audit_checkpoint": checkpoint,
        "token_hash": token_hash,
    }
    return vectors, checks, sealer


def main(argv):
    out = DEFAULT_OUT
    fresh = "--fresh" in argv
    if "--out" in argv:
        out = argv[argv.index("--out") + 1]
    previous = {}
    if not fresh and os.path.exists(out):
        with open(out, encoding="utf-8") as fh:
            try:
                previous = json.load(fh)
            except ValueError:
                previous = {}
    vectors, checks, sealer = build(previous)
    for check in checks:
        check()
    text = json.dumps(vectors, ensure_ascii=False, indent=1) + "\n"
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(text)
    reused = sum(1 for s, *_ in sealer.made if s.hex() in json.dumps(previous))
    print("wrote %s (PyNaCl %s; %d sealed boxes, %d reused; self-check passed)"
          % (out, nacl.__version__, len(sealer.made), reused))


if __name__ == "__main__":
    main(sys.argv[1:])
