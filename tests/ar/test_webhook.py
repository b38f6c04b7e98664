"""The webhook sink against a real HTTP receiver (the sandbox server on 127.0.0.1) that checks every
signature with the recipe published in docs/ar-adapters.md; the real feedback outbox around it."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from connectors.sandbox.server import Reply, Request, SandboxServer
from hub.ar import ArUnavailableError
from hub.ar.registry import ArAdapterRegistry
from hub.ar.webhook import WebhookSink, body_of
from hub.config import AdapterConfig
from hub.errors import ConfigError
from hub.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, sign, verify
from hub.store.database import Store
from hub.store.tables import OutboxRow
from status_sync.feedback import deliver
from tests.ar.support import ROOT, context, hub_config
from tests.ar.test_files_status import event
from tests.factories import T0, FeedbackHub

SECRET = "whsec-8f2b1c9e0d7a4b3c"


def documented_verifier() -> Callable[[bytes, bytes, str, str], bool]:
    """The receiving side's snippet, exactly as docs/ar-adapters.md publishes it."""
    text = (ROOT / "docs" / "ar-adapters.md").read_text(encoding="utf-8")
    after = text.split("<!-- receiver-snippet -->", 1)[1]
    code = after.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/ar-adapters.md", "exec"), namespace)
    return namespace["verify_portalhub_signature"]  # type: ignore[no-any-return]


class Receiver:
    """An AR system's endpoint: checks the signature, stores each event once, can be told to fail."""

    def __init__(self) -> None:
        self.check = documented_verifier()
        self.events: list[dict[str, Any]] = []
        self.posts: list[str] = []
        self.bad_signatures = 0
        self.fail_with: int | None = None
        self.fail_event: str | None = None
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            timestamp = request.headers.get("x-portalhub-timestamp", "")
            if not self.check(
                SECRET.encode(), request.body, timestamp, request.headers.get("x-portalhub-signature", "")
            ):
                self.bad_signatures += 1
                return Reply(401, b"bad signature")
            item = json.loads(request.body)
            self.posts.append(item["event_id"])
            if self.fail_with is not None and self.fail_event in (None, item["event_id"]):
                return Reply(self.fail_with, b"AR database is down\nretry later")
            assert request.headers["x-portalhub-event-id"] == item["event_id"]
            if item["event_id"] not in {e["event_id"] for e in self.events}:
                self.events.append(item)
            return Reply(204)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, SandboxServer]]:
    target = Receiver()
    server = SandboxServer(target).start()
    yield target, server
    server.stop()


def sink(url: str, environ: dict[str, str] | None = None, **settings: Any) -> WebhookSink:
    block = AdapterConfig.model_validate({"kind": "webhook", "url": url, "secret": "env:AR_HOOK", **settings})
    ctx = context(Path.cwd(), environ if environ is not None else {"AR_HOOK": SECRET})
    built = ArAdapterRegistry().build(block, ctx, "feedback")
    assert isinstance(built, WebhookSink)
    return built


def test_each_event_is_posted_signed_and_in_order(receiver: tuple[Receiver, SandboxServer]) -> None:
    target, server = receiver
    hook = sink(f"{server.url}/portalhub/events")
    hook.write([event(1), event(2, reason='a reason with ünïcode and "quotes"'), event(3)])
    assert [e["event_id"] for e in target.events] == ["evt-1", "evt-2", "evt-3"]
    assert target.events[1] == event(2, reason='a reason with ünïcode and "quotes"')
    assert target.bad_signatures == 0
    hook.close()


def test_events_stay_in_the_outbox_until_the_receiver_acknowledges_them(
    receiver: tuple[Receiver, SandboxServer], sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    target, server = receiver
    hook = sink(f"{server.url}/events?token=abc123")
    with sqlite_store.session() as session:
        for n in (1, 2, 3):
            session.add(OutboxRow(event_key=f"evt-{n}", payload=json.dumps(event(n)), created_at=T0))
    target.fail_with, target.fail_event = 503, "evt-2"  # the AR side fails half-way through the batch
    feedback = FeedbackHub(sqlite_store, hook)
    with caplog.at_level(logging.WARNING):
        report = deliver(feedback)
    assert (report.delivered, report.failed) == (0, 3)
    assert report.error == (
        f"the webhook receiver {server.url}/events answered HTTP 503 to event evt-2 "
        "('AR database is down retry later'); it is kept and retried"
    )
    with sqlite_store.session() as session:
        kept = session.exec(select(OutboxRow)).all()
        assert [r.delivered_at for r in kept] == [None, None, None]
        assert all(r.last_error == report.error for r in kept)
    assert SECRET not in caplog.text and "abc123" not in caplog.text
    target.fail_with = None
    feedback.clock.advance(seconds=30)
    assert deliver(feedback).delivered == 0  # backoff: not due yet
    feedback.clock.advance(seconds=90)  # two minutes after the failure
    assert deliver(feedback).delivered == 3
    assert [e["event_id"] for e in target.events] == ["evt-1", "evt-2", "evt-3"]
    # evt-1 was acknowledged the first time: the retry did not post it again.
    assert target.posts == ["evt-1", "evt-2", "evt-2", "evt-3"]
    hook.close()


def test_a_redirect_is_not_an_acknowledgement(receiver: tuple[Receiver, SandboxServer]) -> None:
    _, server = receiver
    moved = SandboxServer(lambda request: Reply(301, headers={"Location": f"{server.url}/events"})).start()
    try:
        with pytest.raises(ArUnavailableError, match="answered HTTP 301 to event evt-1"):
            sink(f"{moved.url}/old").write([event(1)])
    finally:
        moved.stop()


def test_an_unreachable_receiver_raises_without_the_secret_or_the_query() -> None:
    with SandboxServer(lambda request: Reply(200)) as server:
        url = f"http://user:pw@127.0.0.1:{server.port}/events?token=abc123"
    hook = sink(url)  # the server is gone: connection refused
    with pytest.raises(ArUnavailableError) as caught:
        hook.write([event(1)])
    message = str(caught.value)
    assert message == (
        f"the webhook receiver http://127.0.0.1:{server.port}/events could not be reached (ConnectError); "
        "event evt-1 and the ones after it are kept and retried"
    )


def test_signatures_fail_for_a_changed_body_another_secret_or_an_old_timestamp() -> None:
    body = body_of(event(1))
    now = time.time()
    stamp = str(int(now))
    signature = sign(SECRET, int(now), body)
    assert verify(SECRET, body, stamp, signature, now) == int(now)
    cases = {
        "the signature does not match the body under this secret": (
            SECRET,
            body + b" ",
            stamp,
            signature,
            now,
        ),
        "the signature does not match": ("another-secret", body, stamp, signature, now),
        # The timestamp is signed: a fresh one on a captured request does not verify.
        "does not match": (SECRET, body, str(int(now) + 1), signature, now),
        "a replayed or delayed request": (SECRET, body, stamp, signature, now + 301),
        "from now": (SECRET, body, stamp, signature, now - 301),
        "X-Portalhub-Timestamp is not unix seconds": (SECRET, body, "yesterday", signature, now),
        "X-Portalhub-Signature is not sha256=<hex>": (SECRET, body, stamp, signature[7:], now),
    }
    for reason, (key, content, at_header, value, at) in cases.items():
        with pytest.raises(SignatureError, match=reason):
            verify(key, content, at_header, value, at)
    check = documented_verifier()  # the docs' recipe agrees on every case
    assert check(SECRET.encode(), body, stamp, signature)
    assert not check(SECRET.encode(), body + b" ", stamp, signature)
    assert not check(b"another-secret", body, stamp, signature)
    assert not check(SECRET.encode(), body, str(int(now) + 1), signature)
    old = int(now) - 301
    assert not check(SECRET.encode(), body, str(old), sign(SECRET, old, body))
    assert not check(SECRET.encode(), body, "garbage", signature)


def test_settings_want_a_secret_reference_and_an_http_url() -> None:
    with pytest.raises(ConfigError) as caught:
        sink("http://127.0.0.1:9/x", secret="whsec-pasted-in-clear")
    assert "feedback.secret: Value error, must be a secret reference" in str(caught.value)
    assert "whsec-pasted-in-clear" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"feedback\.url: Value error, must be an http:// or https:// URL"):
        sink("ftp://ar.example.com/drop")
    with pytest.raises(ConfigError, match="environment variable AR_HOOK is not set"):
        sink("http://127.0.0.1:9/x", environ={})  # at start-up, not at the first event


runner = CliRunner()


def test_the_cli_makes_a_signed_sample_and_verifies_what_a_receiver_got(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: tuple[Receiver, SandboxServer]
) -> None:
    monkeypatch.setenv("AR_HOOK", SECRET)
    made = runner.invoke(app, ["webhook", "verify", "--secret", "env:AR_HOOK", "--sample"])
    assert made.exit_code == 0, made.output
    body, timestamp_line, signature_line = made.stdout.splitlines()
    headers = dict(line.split(": ", 1) for line in (timestamp_line, signature_line))
    assert sorted(headers) == [SIGNATURE_HEADER, TIMESTAMP_HEADER]
    target, server = receiver  # a real receiver on 127.0.0.1, checking with the docs' recipe
    answer = httpx.post(
        f"{server.url}/events",
        content=body.encode(),
        headers={**headers, "X-Portalhub-Event-Id": "evt-test-1"},
    )
    assert answer.status_code == 204 and target.events[0]["event_id"] == "evt-test-1"
    assert target.bad_signatures == 0
    (tmp_path / "body.json").write_text(body, encoding="utf-8")
    args = ["webhook", "verify", "--secret", "env:AR_HOOK", "--body", str(tmp_path / "body.json")]
    # The header lines as copied from a request log, or just their values.
    ok = runner.invoke(app, [*args, "--timestamp", timestamp_line, "--signature", signature_line])
    assert ok.exit_code == 0 and ok.stdout.startswith("valid: signed at "), ok.output
    signed = ["--timestamp", headers[TIMESTAMP_HEADER], "--signature", headers[SIGNATURE_HEADER]]
    captured = int(time.time()) - 600  # a request captured ten minutes ago and sent again
    replayed = ["--timestamp", str(captured), "--signature", sign(SECRET, captured, body.encode())]
    late = runner.invoke(app, [*args, *replayed, "--json"])
    assert late.exit_code == 1 and "a replayed or delayed request" in json.loads(late.stdout)["reason"]
    assert runner.invoke(app, [*args, *replayed, "--tolerance", "900"]).exit_code == 0
    (tmp_path / "body.json").write_text(body.replace("REJECTED", "PAID"), encoding="utf-8")
    bad = runner.invoke(app, [*args, *signed, "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout) == {
        "valid": False,
        "reason": "the signature does not match the body under this secret",
    }
    clear = runner.invoke(app, ["webhook", "verify", "--secret", SECRET, "--sample"])
    assert clear.exit_code == 2 and SECRET not in clear.output


def test_without_secret_the_cli_uses_the_configured_webhooks(tmp_path: Path) -> None:
    feedback = {"kind": "webhook", "url": "https://erp.example.com/hook", "secret": "secret:ar_hook"}
    config = hub_config(tmp_path, {"kind": "sql", "url": "sqlite:///ar.db"}, feedback)
    with (tmp_path / "secrets.yaml").open("a", encoding="utf-8") as file:
        file.write(f"ar_hook: {SECRET}\n")  # from the secrets file the hub reads, never the command line
    made = runner.invoke(app, ["-c", str(config), "webhook", "verify", "--sample", "--json"])
    assert made.exit_code == 0, made.output
    sample = json.loads(made.stdout)
    signed = sample["headers"]
    body = sample["body"].encode()
    assert verify(SECRET, body, signed[TIMESTAMP_HEADER], signed[SIGNATURE_HEADER], time.time())
    assert SECRET not in made.stdout
    bare = hub_config(tmp_path / "bare", {"kind": "sql", "url": "sqlite:///ar.db"})
    none = runner.invoke(app, ["-c", str(bare), "webhook", "verify", "--sample"])
    assert none.exit_code == 2 and "no webhook is configured" in none.output
