"""Console end-to-end fixtures: a fresh vault made with the CLI (setup-vault), the real `consultvault serve` on a
free loopback port, Debian's chromium through Playwright, and helpers. Builds nothing: the debug binary must exist
(ops/test builds it first). Everything started here is stopped at the end."""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("CONSULTVAULT_BIN", ROOT / ".build" / "debug" / "consultvault"))
CHROMIUM = os.environ.get("CONSULTVAULT_CHROMIUM", "/usr/bin/chromium")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`consultvault serve` on a vault directory; restartable (sessions end with the process)."""

    def __init__(self, data, work):
        self.data = data
        self.work = work
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log = open(work / "server.log", "ab")

    def start(self):
        self.process = subprocess.Popen(
            [str(BIN), "serve", "--data", str(self.data), "--listen", f"127.0.0.1:{self.port}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}; see {self.work}/server.log")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("serve did not answer /healthz within 60 s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def vault():
    if not BIN.exists():
        pytest.exit(f"{BIN} is missing: run `swift build` first (ops/test does)", returncode=2)
    keep = os.environ.get("CONSULTVAULT_E2E_KEEP") == "1"
    work = pathlib.Path(tempfile.mkdtemp(prefix="consultvault-console-e2e."))
    data = work / "data"
    out = subprocess.run(
        [str(ROOT / "ops" / "console-e2e" / "setup-vault"), str(BIN), str(data), str(work)],
        check=True, capture_output=True, text=True, timeout=600)
    people = json.loads(out.stdout)
    server = Server(data, work)
    server.start()
    try:
        yield {"server": server, "base": server.base, "work": work, **people}
    finally:
        server.stop()
        server.log.close()
        if keep:
            print(f"# kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def base(vault):
    return vault["base"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, base):
    return {**browser_context_args, "base_url": base, "locale": "ja-JP", "timezone_id": "Asia/Tokyo"}


def new_context(browser, vault, **options):
    """A fresh browser context (its own cookies) on the server, Japanese and in Tokyo like a municipal desk."""
    return browser.new_context(base_url=vault["base"], locale="ja-JP", timezone_id="Asia/Tokyo", **options)


def relay_post(base, token, text, channel_user="U" + "c" * 32, desk="ijime"):
    """A relay delivering one inbound text (POST /v1/messages); returns the API's answer."""
    body = json.dumps({
        "desk": desk, "channel": "line", "channel_user": channel_user, "external_id": f"ext-{uuid.uuid4()}",
        "sent_at": "2026-12-07T09:00:00.000+09:00", "kind": "text", "text": text,
    }).encode()
    request = urllib.request.Request(
        base + "/v1/messages", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def login(page, vault, username):
    """Signs in through the form and waits for the home page."""
    page.goto("/console/login")
    page.fill("#username", username)
    page.fill("#passphrase", vault["passphrases"][username])
    with page.expect_navigation():
        page.click("button[type=submit]")
