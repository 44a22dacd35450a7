"""Shared helpers for the evidence scripts (ops/crash-loop, ops/disk-full, ops/soak): a throwaway vault made
with ops/lib/setup-vault.sh, a server process on loopback, and small JSON-over-HTTP calls. Loopback only."""
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def binary():
    """CONSULTVAULT_BIN, else the debug build (what ops/test just built, like ops/e2e): a release binary left by a
    benchmark may be older than the sources, so it is used only when named."""
    named = os.environ.get("CONSULTVAULT_BIN")
    if named:
        return named
    path = os.path.join(ROOT, ".build", "debug", "consultvault")
    if not os.path.exists(path):
        subprocess.run(["swift", "build", "--product", "consultvault"], cwd=ROOT, check=True)
    return path


def setup_vault(data, recovery, users):
    """Runs the first-vault sequence; returns the relay token. users: ["name:role:passphrase", ...]."""
    script = (
        f'source "{ROOT}/ops/lib/setup-vault.sh"; CV_BIN="{binary()}"; CV_DATA="{data}"; '
        f'cv_setup_vault test "{recovery}" desk-a relay-a {" ".join(users)} >&2 && printf "%s" "$CV_RELAY_TOKEN"'
    )
    out = subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data, port, log):
        self.data, self.port, self.log = data, port, log
        self.proc = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=30):
        self.proc = subprocess.Popen(
            [binary(), "serve", "--data", self.data, "--listen", f"127.0.0.1:{self.port}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                status, _ = call(self.base, "GET", "/healthz", timeout=1)
                if status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            time.sleep(0.05)
        raise RuntimeError("server did not become healthy")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def call(base, method, path, body=None, token=None, timeout=10):
    """Returns (status, parsed JSON or None). Connection errors raise OSError."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, method=method, data=data)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw and r.headers.get_content_type() == "application/json" else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None


def message(external_id, user="Ucrash", text="x" * 500):
    return {"desk": "desk-a", "channel": "line", "channel_user": user, "external_id": external_id,
            "sent_at": "2026-11-22T00:00:00Z", "kind": "text", "text": text}


def all_messages(base, token):
    """Every message of every case the counselor can read (queue cases), by id."""
    status, listing = call(base, "GET", "/v1/cases?limit=1000", token=token)
    assert status == 200, status
    seen = {}
    for case in listing["cases"]:
        after = 0
        while True:
            status, page = call(base, "GET", f"/v1/cases/{case['id']}/messages?after_seq={after}&limit=1000", token=token)
            assert status == 200, (status, page)
            if not page["messages"]:
                break
            for m in page["messages"]:
                seen.setdefault(m["id"], 0)
                seen[m["id"]] += 1
            after = page["messages"][-1]["seq"]
    return seen
