#!/usr/bin/env python3
"""A stand-in for LINE's Messaging API, for tests and the demo (loopback only).

It validates every request the relay makes against LINE's own OpenAPI document
(shared/context/line-messaging-api-openapi.yml, via openapi-core; an invalid request is answered 400 and recorded
as such) and records every request. Like LINE, it answers 409 for a push whose X-Line-Retry-Key it accepted
before. It also plays LINE's webhook side: it signs a webhook body with the channel secret and posts it to the
relay, redelivering on any non-2xx answer (webhook redelivery on).

    ops/line-standin.py --port P --openapi FILE [--channel-secret-file F]

Control API (JSON):
  GET  /_control/requests            {"requests": [{"method","path","status","valid","errors","headers","body"}]}
  POST /_control/content             {"message_id", "content_type", "body_b64", "hold_seconds"}: content the data
                                     API serves; with hold_seconds the first fetch waits that long (a relay
                                     killed meanwhile never gets it), later fetches answer at once
  POST /_control/push-script         {"statuses": [429, 200, ...]}: answers for the next pushes (default 200);
                                     "hold" accepts the push, then waits `hold_seconds` before answering 200
  POST /_control/webhook             {"url", "events": [...], "redeliver_seconds": 30}: signs and posts a webhook
                                     body {"destination", "events"}, redelivering every second until a 2xx;
                                     answers {"status", "attempts"}
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jsonschema_path import SchemaPath
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.schemas import oas30_write_schema_validators_factory
from werkzeug.datastructures import Headers, ImmutableMultiDict

DATA_PATH_PREFIX = "/v2/bot/message/"


class LineRequest:
    """openapi-core's request protocol over one received request."""

    def __init__(self, method, path, headers, body):
        host = "https://api-data.line.me" if path.endswith("/content") else "https://api.line.me"
        self.host_url = host
        self.path = path.split("?", 1)[0]
        self.full_url_pattern = host + self.path
        self.method = method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict([]), header=Headers(list(headers.items())), cookie=ImmutableMultiDict([]))
        self.content_type = headers.get("Content-Type", "") or ""
        self.body = body or b""


class State:
    def __init__(self, path, secret):
        self.lock = threading.Lock()
        self.openapi = OpenAPI.from_file_path(path)
        # openapi-core does not follow an OpenAPI 3.0 discriminator on a base schema without oneOf (Message):
        # each message is also checked against the schema its `type` maps to.
        spec = SchemaPath.from_file_path(path)
        schemas = spec / "components" / "schemas"
        mapping = dict((schemas / "Message" / "discriminator" / "mapping").contents())
        self.message_validators = {
            t: oas30_write_schema_validators_factory.create(schemas / ref.rsplit("/", 1)[1])
            for t, ref in mapping.items()}
        self.secret = secret
        self.requests = []
        self.content = {}
        self.content_holds = {}
        self.script = []
        self.hold_seconds = 5.0
        self.accepted_keys = set()


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def read_body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def answer(self, status, obj=None, raw=None, content_type="application/json", headers=None):
            data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-line-request-id", str(uuid.uuid4()))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def record(self, body, status, errors):
            entry = {"method": self.command, "path": self.path, "status": status, "valid": not errors,
                     "errors": errors, "headers": {k: v for k, v in self.headers.items()},
                     "body": body.decode("utf-8", "replace"), "time": time.time()}
            with state.lock:
                state.requests.append(entry)
            return entry

        def validate(self, body):
            try:
                state.openapi.validate_request(LineRequest(self.command, self.path, self.headers, body))
                if self.command == "POST" and self.path.startswith("/v2/bot/message/"):
                    for m in json.loads(body).get("messages", []):
                        validator = state.message_validators.get(m.get("type"))
                        if validator is None:
                            return [f"unknown message type {m.get('type')!r}"]
                        validator.validate(m)
                return []
            except Exception as e:  # every validation failure, with its causes
                errors = [f"{type(e).__name__}: {e}"]
                cause = getattr(e, "__cause__", None)
                while cause is not None:
                    errors.append(f"{type(cause).__name__}: {cause}")
                    for sub in getattr(cause, "schema_errors", []) or []:
                        errors.append(str(sub.message))
                    cause = getattr(cause, "__cause__", None)
                for sub in getattr(e, "schema_errors", []) or []:
                    errors.append(str(sub.message))
                return errors

        def do_GET(self):
            if self.path == "/_control/requests":
                with state.lock:
                    return self.answer(200, {"requests": list(state.requests)})
            body = b""
            errors = self.validate(body)
            if errors:
                self.record(body, 400, errors)
                return self.answer(400, {"message": "request does not conform to the Messaging API", "details": []})
            path = self.path.split("?", 1)[0]
            if path.startswith(DATA_PATH_PREFIX) and path.endswith("/content"):
                mid = path[len(DATA_PATH_PREFIX):-len("/content")]
                with state.lock:
                    item = state.content.get(mid)
                    hold = state.content_holds.pop(mid, 0)
                if hold and item is not None:
                    # Recorded at once (like a held push), answered after the hold.
                    self.record(body, 200, [])
                    time.sleep(hold)
                    return self.answer(200, raw=item[1], content_type=item[0])
                if item is None:
                    self.record(body, 404, [])
                    return self.answer(404, {"message": "Not found"})
                self.record(body, 200, [])
                return self.answer(200, raw=item[1], content_type=item[0])
            self.record(body, 404, [])
            self.answer(404, {"message": "Not found"})

        def do_POST(self):
            body = self.read_body()
            if self.path.startswith("/_control/"):
                return self.control(json.loads(body or b"{}"))
            errors = self.validate(body)
            if errors:
                self.record(body, 400, errors)
                return self.answer(400, {"message": "The request body has 1 error(s)", "details": []})
            if self.path != "/v2/bot/message/push":
                self.record(body, 404, [])
                return self.answer(404, {"message": "Not found"})
            key = self.headers.get("X-Line-Retry-Key")
            with state.lock:
                seen = key is not None and key in state.accepted_keys
                step = state.script.pop(0) if state.script and not seen else 200
                if not seen and step in (200, "hold") and key is not None:
                    state.accepted_keys.add(key)
            if seen:
                self.record(body, 409, [])
                return self.answer(
                    409, {"message": "The retry key is already accepted"},
                    headers={"x-line-accepted-request-id": str(uuid.uuid4())})
            if step == "hold":
                self.record(body, 200, [])
                time.sleep(state.hold_seconds)
                return self.answer(200, {"sentMessages": [{"id": str(int(time.time() * 1000)), "quoteToken": "q"}]})
            self.record(body, int(step), [])
            if step == 200:
                return self.answer(200, {"sentMessages": [{"id": str(int(time.time() * 1000)), "quoteToken": "q"}]})
            headers = {"Retry-After": "1"} if step == 429 else None
            return self.answer(int(step), {"message": f"stand-in answer {step}"}, headers=headers)

        def control(self, obj):
            if self.path == "/_control/content":
                with state.lock:
                    state.content[obj["message_id"]] = (obj["content_type"], base64.b64decode(obj["body_b64"]))
                    if obj.get("hold_seconds"):
                        state.content_holds[obj["message_id"]] = float(obj["hold_seconds"])
                return self.answer(200, {})
            if self.path == "/_control/push-script":
                with state.lock:
                    state.script = list(obj.get("statuses", []))
                    state.hold_seconds = float(obj.get("hold_seconds", state.hold_seconds))
                return self.answer(200, {})
            if self.path == "/_control/webhook":
                return self.answer(200, send_webhook(state, obj))
            self.answer(404, {"message": "unknown control path"})

    return Handler


def send_webhook(state, obj):
    """Signs and posts a webhook, redelivering (isRedelivery: true) every second until a 2xx or the time is up."""
    deadline = time.time() + float(obj.get("redeliver_seconds", 30))
    attempts, statuses = 0, []
    while True:
        events = obj["events"]
        if attempts > 0:
            events = [dict(e, deliveryContext={"isRedelivery": True}) for e in events]
        body = json.dumps({"destination": obj.get("destination", "Ustandin0000000000000000000000000"),
                           "events": events}, ensure_ascii=False).encode()
        signature = base64.b64encode(hmac.new(state.secret, body, hashlib.sha256).digest()).decode()
        req = urllib.request.Request(obj["url"], data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "X-Line-Signature": signature,
            "User-Agent": "LineBotWebhook/2.0"})
        attempts += 1
        started = time.time()
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError:
            status = 0
        statuses.append({"status": status, "seconds": round(time.time() - started, 3)})
        if 200 <= status < 300 or time.time() > deadline:
            return {"status": status, "attempts": attempts, "answers": statuses}
        time.sleep(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--openapi", required=True)
    p.add_argument("--channel-secret-file", help="file holding the channel secret (for signing webhooks)")
    a = p.parse_args()
    secret = b""
    if a.channel_secret_file:
        with open(a.channel_secret_file, "rb") as f:
            secret = f.read().strip()
    state = State(a.openapi, secret)
    server = ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(state))
    server.daemon_threads = True
    print(f"line-standin: listening on 127.0.0.1:{a.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
