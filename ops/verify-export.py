#!/usr/bin/env python3
"""Verify a ConsultVault access-log export with nothing but PyNaCl and the standard library.

An independent implementation of schema/FORMAT.md section 6 (it shares no code with the Swift
verifier): recompute the hash chain, check every signed note against the verifier key(s), check
each note's hash against the chain, detect a truncated tail against a checkpoint file.

    python3 ops/verify-export.py EXPORT.jsonl --public-key vault-signing.pub [--checkpoints audit-checkpoints.log]

Exit 0 and "ok: ..." when everything holds; exit 1 and "FAILED: seq N: why" otherwise.
"""
import argparse
import base64
import hashlib
import json
import struct
import sys

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey


class Bad(Exception):
    def __init__(self, seq, why):
        super().__init__("seq %s: %s" % (seq, why) if seq is not None else why)


def canon(*fields):
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def read_keys(path):
    keys = []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, keyhash, b64 = line.split("+", 2)  # the base64 part may contain "+"
        raw = base64.b64decode(b64, validate=True)
        if len(raw) != 33 or raw[0] != 1:
            raise SystemExit("not an Ed25519 verifier key: " + line)
        if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() != keyhash:
            raise SystemExit("verifier key hash mismatch: " + line)
        keys.append((name, bytes.fromhex(keyhash), VerifyKey(raw[1:])))
    return keys


def check_note(kind, note, keys):
    """Returns (kind, seq, hash, restore?) after checking the layout and the signatures."""
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    lines = text[:-1].split("\n")
    if len(lines) < 4 or not lines[3].startswith("time "):
        raise Bad(None, "a %s note is malformed" % kind)
    origin, seq, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    extra = lines[4:]
    actual = "restore" if extra == ["restore"] else "purge" if extra else "checkpoint"
    if actual != kind or (actual == "purge" and not all(l.startswith("purge case:") for l in extra)):
        raise Bad(seq, "the note says %s, its line says %s" % (actual, kind))
    good = 0
    for line in sigs.rstrip("\n").split("\n"):
        dash, name, b64 = line.split(" ")
        raw = base64.b64decode(b64, validate=True)
        if dash != "\u2014" or len(raw) != 68:
            raise Bad(seq, "malformed signature line")
        for kname, khash, vk in keys:
            if kname == name and khash == raw[:4]:
                try:
                    vk.verify(text.encode(), raw[4:])
                except BadSignatureError:
                    raise Bad(seq, "a signature by a known key does not verify")
                if name != origin:
                    raise Bad(seq, "origin is not the key's name")
                good += 1
    if not good:
        raise Bad(seq, "not signed by any given verifier key")
    return kind, seq, root


def verify(export_path, keys, checkpoints_path=None):
    notes = []
    if checkpoints_path:
        for line in open(checkpoints_path, encoding="utf-8"):
            if line.strip():
                o = json.loads(line)
                notes.append(check_note(o["type"], o["note"], keys))
    hashes, prev, expected = [], bytes(32), 1
    for line in open(export_path, encoding="utf-8"):
        if not line.strip():
            continue
        o = json.loads(line)
        if o["type"] != "entry":
            notes.append(check_note(o["type"], o["note"], keys))
            continue
        if o["seq"] != expected:
            raise Bad(expected, "expected seq %d, found %d (deleted or reordered)" % (expected, o["seq"]))
        if o["outcome"] not in ("allowed", "denied", "error"):
            raise Bad(expected, "bad outcome")
        entry = canon(
            struct.pack(">Q", o["seq"]), struct.pack(">Q", o["time_ms"]),
            *(o[k].encode() for k in ("actor", "role", "action", "target", "outcome", "request_id")),
            bytes.fromhex(o["envelope_hash"]) if o["envelope_hash"] is not None else b"",
            base64.b64decode(o["reason_sealed"], validate=True) if o["reason_sealed"] is not None else b"")
        prev = hashlib.blake2b(prev + entry, digest_size=32).digest()
        if prev.hex() != o["hash"]:
            raise Bad(expected, "the entry does not hash to its stored hash")
        hashes.append(prev)
        expected += 1
    last = expected - 1
    restored_to, live = None, []
    for kind, seq, root in reversed(notes):  # notes before a restore marker to an earlier seq are superseded
        if restored_to is None or seq <= restored_to:
            live.append((seq, root))
        if kind == "restore":
            restored_to = seq if restored_to is None else min(restored_to, seq)
    anchored = 0
    for seq, root in sorted(live):
        if seq > last:
            raise Bad(last + 1, "the log ends at seq %d but a note anchors seq %d (truncated tail)" % (last, seq))
        if (hashes[seq - 1] if seq else bytes(32)) != root:
            raise Bad(seq, "a note signs another hash than the log's (entries %d..%d altered)" % (anchored + 1, seq))
        anchored = seq
    return last, len(live), anchored


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("export")
    p.add_argument("--public-key", required=True)
    p.add_argument("--checkpoints")
    a = p.parse_args()
    try:
        entries, notes, anchored = verify(a.export, read_keys(a.public_key), a.checkpoints)
    except (Bad, ValueError, KeyError, TypeError) as e:
        print("FAILED: %s" % e)
        return 1
    print("ok: %d entries, %d signed notes; newest anchor at seq %d; %d unanchored"
          % (entries, notes, anchored, entries - anchored))
    return 0


if __name__ == "__main__":
    sys.exit(main())
