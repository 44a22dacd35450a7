#!/usr/bin/env python3
"""Writes a synthetic ConsultVault audit export of N entries (schema/FORMAT.md section 6.6) for
ops/bench/audit-verify: realistic field sizes (UUID targets and request ids, envelope hashes on
relay writes, a sealed reason on one entry in a thousand), a checkpoint every 1,000 entries signed
with a fresh Ed25519 key, the matching checkpoint file and verifier key file.

    gen-audit-export.py N OUT_DIR      -> OUT_DIR/export.jsonl, audit-checkpoints.log, vault-signing.pub
"""
import base64
import hashlib
import json
import os
import struct
import sys
import uuid

from nacl.signing import SigningKey


def canon(*fields):
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    vault_id = str(uuid.uuid4())
    name = "consultvault/" + vault_id
    key = SigningKey.generate()
    pk = bytes(key.verify_key)
    keyhash = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
    with open(os.path.join(out, "vault-signing.pub"), "w") as fh:
        fh.write("%s+%s+%s\n" % (name, keyhash.hex(), base64.b64encode(b"\x01" + pk).decode()))
    actions = [("relay.write", "line-relay-1", "relay"), ("transcript.read", "kenji", "counselor"),
               ("transcript.read", "aiko", "supervisor"), ("session.unlock", "kenji", "counselor"),
               ("case.assign", "aiko", "supervisor"), ("content.read", "yui", "counselor")]
    cases = ["case:" + str(uuid.uuid4()) for _ in range(500)]
    prev, t = bytes(32), 1795000000000
    notes = []
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with open(os.path.join(out, "export.jsonl"), "w", encoding="utf-8") as fh:
        buf = []
        for seq in range(1, n + 1):
            action, actor, role = actions[seq % len(actions)]
            t += 37
            target = cases[seq % len(cases)]
            rid = str(uuid.UUID(bytes=os.urandom(16), version=4))
            env = hashlib.blake2b(seq.to_bytes(8, "big"), digest_size=32).digest() if action == "relay.write" else b""
            reason = os.urandom(150) if seq % 1000 == 500 else b""
            entry = canon(struct.pack(">Q", seq), struct.pack(">Q", t), actor.encode(), role.encode(),
                          action.encode(), target.encode(), b"allowed", rid.encode(), env, reason)
            prev = hashlib.blake2b(prev + entry, digest_size=32).digest()
            buf.append(dumps({"type": "entry", "seq": seq, "time_ms": t, "actor": actor, "role": role,
                              "action": action, "target": target, "outcome": "allowed", "request_id": rid,
                              "envelope_hash": env.hex() if env else None,
                              "reason_sealed": base64.b64encode(reason).decode() if reason else None,
                              "hash": prev.hex()}))
            if seq % 1000 == 0:
                text = "%s\n%d\n%s\ntime %d\n" % (name, seq, base64.b64encode(prev).decode(), t)
                sig = key.sign(text.encode()).signature
                note = text + "\n\u2014 %s %s\n" % (name, base64.b64encode(keyhash + sig).decode())
                notes.append(dumps({"type": "checkpoint", "note": note}))
            if len(buf) >= 10000:
                fh.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            fh.write("\n".join(buf) + "\n")
        fh.write("\n".join(notes) + "\n")
    with open(os.path.join(out, "audit-checkpoints.log"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(notes) + "\n")


if __name__ == "__main__":
    main()
