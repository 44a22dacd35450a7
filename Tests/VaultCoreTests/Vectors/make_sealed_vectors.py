#!/usr/bin/env python3
"""Relay-sealed envelopes built from schema/FORMAT.md (§1.4, §15) alone, with PyNaCl.

Writes sealed-vectors.json next to this file: an epoch key pair (demo key, never real), a case id,
a channel user, and three `sealed` forms of POST /v1/messages:
  good    — a correct envelope for that epoch key;
  altered — a correct envelope whose JSON `sent_at` was then changed (the AAD no longer matches);
  second  — another correct envelope for the same epoch (used after the epoch has moved on: 409);
and the same in envelope version 2 (FORMAT.md §1.8, §15), all in one relay sender session:
  good_v2, good_v2_b — two correct version 2 envelopes of one session;
  altered_v2         — a correct one whose JSON `sent_at` was then changed.
Run: python3 make_sealed_vectors.py   (needs `pip install pynacl`)
"""
import base64
import json
import os
import struct
import uuid
from hashlib import blake2b

from nacl.bindings import (crypto_aead_xchacha20poly1305_ietf_encrypt, crypto_box_seal,
                           crypto_scalarmult, crypto_scalarmult_base)

EPOCH_SK = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")  # RFC 7748
CASE_ID = uuid.UUID("01a20290-0000-7000-8000-00000000ca5e")
USER = "U4af4980629e7d6f4e3c6f9b3d2a1c0ff"


def canon(*fields):
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def uuid7(ms, tail):
    b = bytearray(ms.to_bytes(6, "big") + tail)
    b[6] = 0x70 | (b[6] & 0x0F)
    b[8] = 0x80 | (b[8] & 0x3F)
    return uuid.UUID(bytes=bytes(b))


def envelope(message_id, sent_at_ms, sent_at, text):
    epoch_pk = crypto_scalarmult_base(EPOCH_SK)
    key_id = blake2b(epoch_pk, digest_size=16).digest()
    k, nonce = os.urandom(32), os.urandom(24)
    aad = canon(b"\x01", message_id.bytes, CASE_ID.bytes, key_id, b"inbound", b"text", b"channel",
                struct.pack(">Q", sent_at_ms))
    plaintext = json.dumps({"text": text}, ensure_ascii=False).encode()
    body = nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, k)
    blob = canon(b"consultvault/message-key/v1", message_id.bytes, key_id) + struct.pack(">I", 32) + k
    key = crypto_box_seal(blob, epoch_pk)
    return {
        "message_id": str(message_id), "key_id": key_id.hex(), "sent_at": sent_at, "kind": "text",
        "body": base64.b64encode(body).decode(), "key": base64.b64encode(key).decode(),
    }


SESSION_SK = os.urandom(32)  # the relay's sender session: one ephemeral key pair for all v2 forms below


def envelope_v2(message_id, sent_at_ms, sent_at, text):
    epoch_pk = crypto_scalarmult_base(EPOCH_SK)
    key_id = blake2b(epoch_pk, digest_size=16).digest()
    session_pk = crypto_scalarmult_base(SESSION_SK)
    session_id = blake2b(canon(b"consultvault/session-id/v2", CASE_ID.bytes, key_id, session_pk),
                         digest_size=16).digest()
    shared = crypto_scalarmult(SESSION_SK, epoch_pk)
    session_key = blake2b(canon(b"consultvault/session-key/v2", session_id, session_pk, epoch_pk),
                          digest_size=32, key=shared).digest()
    k, nonce, key_nonce = os.urandom(32), os.urandom(24), os.urandom(24)
    aad = canon(b"\x02", message_id.bytes, CASE_ID.bytes, key_id, session_id, b"inbound", b"text", b"channel",
                struct.pack(">Q", sent_at_ms))
    plaintext = json.dumps({"text": text}, ensure_ascii=False).encode()
    body = nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, k)
    key = key_nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(
        k, canon(b"consultvault/message-key/v2", aad), key_nonce, session_key)
    return {
        "version": 2, "message_id": str(message_id), "key_id": key_id.hex(), "sent_at": sent_at, "kind": "text",
        "session_public_key": base64.b64encode(session_pk).decode(),
        "body": base64.b64encode(body).decode(), "key": base64.b64encode(key).decode(),
    }


def main():
    epoch_pk = crypto_scalarmult_base(EPOCH_SK)
    good = envelope(uuid7(1795000000123, b"\x11" * 10), 1795000000123, "2026-11-18T11:06:40.123Z",
                    "リレーが封をしたメッセージです 🔒")
    altered = envelope(uuid7(1795000000456, b"\x22" * 10), 1795000000456, "2026-11-18T11:06:40.456Z",
                       "改ざんされる")
    altered["sent_at"] = "2026-11-18T11:06:41.456Z"  # one second later than what was sealed
    second = envelope(uuid7(1795000000789, b"\x33" * 10), 1795000000789, "2026-11-18T11:06:40.789Z",
                      "古いエポック")
    good_v2 = envelope_v2(uuid7(1795000001123, b"\x44" * 10), 1795000001123, "2026-11-18T11:06:41.123Z",
                          "セッションで封をしたメッセージ 🔐")
    good_v2_b = envelope_v2(uuid7(1795000001234, b"\x55" * 10), 1795000001234, "2026-11-18T11:06:41.234Z",
                            "同じセッションの二通目")
    altered_v2 = envelope_v2(uuid7(1795000001345, b"\x66" * 10), 1795000001345, "2026-11-18T11:06:41.345Z",
                             "改ざんされる v2")
    altered_v2["sent_at"] = "2026-11-18T11:06:42.345Z"
    out = {
        "epoch_secret_key": EPOCH_SK.hex(), "epoch_public_key": epoch_pk.hex(),
        "case_id": str(CASE_ID), "channel_user": USER,
        "good": good, "good_text": "リレーが封をしたメッセージです 🔒", "altered": altered, "second": second,
        "good_v2": good_v2, "good_v2_text": "セッションで封をしたメッセージ 🔐", "good_v2_b": good_v2_b,
        "good_v2_b_text": "同じセッションの二通目", "altered_v2": altered_v2,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sealed-vectors.json")
    with open(path, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=2)
        f.write("\n")


main()
