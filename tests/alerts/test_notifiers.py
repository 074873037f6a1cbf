"""Notifiers and their delivery against real local receivers (and a real Alertmanager)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.alerts.delivery import QUEUE_FULL, Delivery, Outcome
from modelport.alerts.notifiers import (
    AlertmanagerNotifier,
    LogNotifier,
    Notification,
    NotifierError,
    WebhookNotifier,
    build_notifier,
    notifier_from_dict,
)
from modelport.errors import ValidationFailed
from support import free_port

WAIT_S = 30.0  # an upper bound for "never happened", not a performance threshold
STARTS = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def notification(status: str = "firing", **changes: Any) -> Notification:
    fields: dict[str, Any] = {
        "rule": "churn-drift",
        "status": status,
        "endpoint": "churn",
        "metric": "drift.psi",
        "feature": "tenure",
        "version": 2,
        "value": 0.31,
        "threshold": 0.2,
        "severity": "warning",
        "starts_at": STARTS,
        "ends_at": datetime(2026, 1, 5, 10, 0, tzinfo=UTC) if status == "resolved" else None,
        "link": "http://127.0.0.1:8000/v1/endpoints/churn/report",
    }
    fields.update(changes)
    return Notification(**fields)


@dataclass
class Receiver:
    """A real HTTP receiver on 127.0.0.1: answers each POST with the next queued status."""

    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    bodies: list[Any] = field(default_factory=list)
    posts: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def handle(self, body: Any) -> int:
        self.posts += 1
        if self.hang:
            self.hanging.set()
            self.release.wait(WAIT_S)
            return 200
        status = self.statuses.pop(0) if self.statuses else 200
        if status < 300:
            self.bodies.append(body)
            self.arrived.set()
        return status


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[tuple[ThreadingHTTPServer, Receiver]] = []

    def start(receiver: Receiver) -> Receiver:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                status = receiver.handle(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        servers.append((server, receiver))
        return receiver

    yield start
    for server, receiver in servers:
        receiver.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class Record:
    """What the delivery callbacks reported (what alert history and /metrics will get)."""

    outcomes: list[Outcome] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def outcome(self, outcome: Outcome) -> None:
        with self.changed:
            self.outcomes.append(outcome)
            self.changed.notify_all()

    def wait(self, count: int, notifier: str | None = None) -> list[Outcome]:
        """Until ``count`` outcomes (of ``notifier``, if given) were reported."""

        def mine() -> list[Outcome]:
            return [o for o in self.outcomes if notifier in (None, o.notifier)]

        with self.changed:
            assert self.changed.wait_for(lambda: len(mine()) >= count, WAIT_S)
            return mine()

    def failure(self, notifier: str, error: str) -> None:
        self.failures.append((notifier, error))


def delivery(notifiers: list[Any], record: Record, **options: Any) -> Delivery:
    options.setdefault("backoff_s", 0.01)
    return Delivery(notifiers, on_outcome=record.outcome, on_failure=record.failure, **options)


def test_a_receiver_failing_twice_gets_exactly_one_notification(serve: Any) -> None:
    receiver = serve(Receiver(statuses=[500, 500]))
    record = Record()
    sender = delivery([WebhookNotifier(receiver.url, name="ops")], record)
    sender.start()
    sender.submit(notification())
    record.wait(1)
    sender.stop()

    assert receiver.posts == 3
    assert len(receiver.bodies) == 1
    assert receiver.bodies[0]["rule"] == "churn-drift"
    assert receiver.bodies[0]["feature"] == "tenure"
    assert receiver.bodies[0]["value"] == 0.31
    assert receiver.bodies[0]["link"].endswith("/churn/report")
    assert [(o.notifier, o.delivered, o.attempts) for o in record.outcomes] == [("ops", True, 3)]
    assert [name for name, _ in record.failures] == ["ops", "ops"]
    assert "HTTP 500" in record.failures[0][1]
    assert "/hook" not in record.failures[0][1]  # a webhook path may hold a secret token


def test_a_receiver_that_always_fails_is_reported_after_every_attempt(serve: Any) -> None:
    receiver = serve(Receiver(statuses=[500] * 10))
    record = Record()
    sender = delivery([WebhookNotifier(receiver.url, name="ops")], record, attempts=3)
    sender.start()
    sender.submit(notification())
    record.wait(1)
    sender.stop()

    assert receiver.posts == 3
    [outcome] = record.outcomes
    assert (outcome.delivered, outcome.attempts) == (False, 3)
    assert outcome.error is not None and "500" in outcome.error
    assert len(record.failures) == 3


def test_a_hanging_receiver_blocks_neither_the_caller_nor_another_notifier(serve: Any) -> None:
    hung = serve(Receiver(hang=True))
    healthy = serve(Receiver())
    record = Record()
    sender = delivery(
        [WebhookNotifier(hung.url, name="slow"), WebhookNotifier(healthy.url, name="fast")],
        record,
        queue_size=1,
    )
    sender.start()
    sender.submit(notification())
    assert hung.hanging.wait(WAIT_S)
    assert [o.delivered for o in record.wait(1, "fast")] == [True]
    assert healthy.arrived.is_set()
    assert not hung.release.is_set()  # still hanging while the other was delivered
    assert [o.notifier for o in record.outcomes] == ["fast"]

    # The slow queue holds one; the next is dropped and reported at once, without waiting.
    sender.submit(notification("resolved"))
    record.wait(2, "fast")
    sender.submit(notification("resolved"))
    record.wait(3, "fast")
    dropped = [o for o in record.outcomes if o.notifier == "slow"]
    assert [(o.delivered, o.error) for o in dropped] == [(False, QUEUE_FULL)]
    assert ("slow", QUEUE_FULL) in record.failures

    hung.release.set()
    sender.stop()
    assert hung.posts == 2
    assert len(healthy.bodies) == 3


def test_stop_gives_up_what_a_hung_receiver_left_queued(serve: Any) -> None:
    hung = serve(Receiver(hang=True))
    record = Record()
    sender = delivery([WebhookNotifier(hung.url, name="slow", timeout_s=WAIT_S)], record)
    sender.start()
    sender.submit(notification())
    assert hung.hanging.wait(WAIT_S)
    sender.submit(notification("resolved"))
    sender.stop(deadline_s=0)
    hung.release.set()
    record.wait(2)
    by_status = {o.notification.status: o for o in record.outcomes}
    assert by_status["firing"].delivered
    assert (by_status["resolved"].delivered, by_status["resolved"].attempts) == (False, 0)


def test_slack_format_sends_one_readable_text_line(serve: Any) -> None:
    receiver = serve(Receiver())
    WebhookNotifier(receiver.url, format="slack").send(notification())
    [body] = receiver.bodies
    assert set(body) == {"text"}
    assert body["text"].startswith("[FIRING] churn-drift: drift.psi{feature=tenure} on churn v2")
    assert "0.31" in body["text"] and "threshold 0.2" in body["text"]


def test_alertmanager_body_carries_labels_annotations_and_ends_at_when_resolved(
    serve: Any,
) -> None:
    receiver = serve(Receiver())
    notifier = AlertmanagerNotifier(receiver.url.removesuffix("/hook"))
    notifier.send(notification())
    notifier.send(notification("resolved"))
    firing, resolved = (body[0] for body in receiver.bodies)
    assert firing["labels"] == {
        "alertname": "churn-drift",
        "endpoint": "churn",
        "metric": "drift.psi",
        "feature": "tenure",
        "version": "2",
        "severity": "warning",
    }
    assert firing["annotations"]["value"] == "0.31"
    assert firing["annotations"]["threshold"] == "0.2"
    assert firing["annotations"]["link"].endswith("/churn/report")
    assert firing["startsAt"] == "2026-01-05T09:00:00+00:00"
    assert "endsAt" not in firing
    assert resolved["endsAt"] == "2026-01-05T10:00:00+00:00"
    assert resolved["labels"] == firing["labels"]


def test_log_notifier_writes_the_server_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="modelport.alerts.notifiers"):
        LogNotifier().send(notification())
    assert "[FIRING] churn-drift" in caplog.text


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "file:///etc/passwd", "http://", "example.com", ""]
)
def test_a_url_that_is_not_http_with_a_host_is_refused(url: str) -> None:
    with pytest.raises(ValidationFailed) as webhook:
        WebhookNotifier(url)
    with pytest.raises(ValidationFailed) as alertmanager:
        AlertmanagerNotifier(url)
    assert webhook.value.field == alertmanager.value.field == "url"
    assert "url" in webhook.value.message


def test_an_unknown_webhook_format_is_refused() -> None:
    with pytest.raises(ValidationFailed) as error:
        WebhookNotifier("https://example.com/hook", format="xml")
    assert error.value.field == "format"
    assert "json, slack" in error.value.message


def test_an_unreachable_receiver_fails_without_showing_its_path() -> None:
    url = f"http://user:secret@127.0.0.1:{free_port()}/services/T000/B000/XXXX"
    with pytest.raises(NotifierError) as error:
        WebhookNotifier(url).send(notification())
    assert "ConnectError from http://127.0.0.1:" in str(error.value)
    assert "XXXX" not in str(error.value) and "secret" not in str(error.value)


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ({"name": "ops", "kind": "webhook", "url": "https://hooks.example/x"}, WebhookNotifier),
        ({"name": "am", "kind": "alertmanager", "url": "http://am:9093"}, AlertmanagerNotifier),
        ({"name": "server-log", "kind": "log"}, LogNotifier),
    ],
)
def test_notifiers_are_built_from_their_declared_fields(spec: dict[str, str], kind: type) -> None:
    notifier = notifier_from_dict(spec)
    assert isinstance(notifier, kind)
    assert notifier.name == spec["name"]


def test_slack_format_is_declared_with_the_webhook() -> None:
    notifier = build_notifier("ops", "webhook", url="https://hooks.example/x", format="slack")
    assert isinstance(notifier, WebhookNotifier)
    assert set(notifier.body(notification())) == {"text"}


@pytest.mark.parametrize(
    ("spec", "field_name"),
    [
        ({"name": "Ops!", "kind": "webhook", "url": "https://hooks.example/x"}, "name"),
        ({"name": "ops", "kind": "pager", "url": "https://hooks.example/x"}, "kind"),
        ({"name": "ops", "kind": "webhook"}, "url"),
        ({"name": "ops", "kind": "webhook", "url": "mailto:ops@example.com"}, "url"),
        ({"name": "ops", "kind": "log", "url": "https://hooks.example/x"}, "url"),
        ({"name": "am", "kind": "alertmanager", "url": "http://am", "format": "slack"}, "format"),
        ({"name": "ops", "kind": "webhook", "url": "https://h.example", "format": "xml"}, "format"),
        ({"name": "ops", "kind": "webhook", "url": "https://h.example", "token": "t"}, "token"),
        ({"kind": "log"}, "name"),
        ({"name": "ops"}, "kind"),
        ({"name": "ops", "kind": 3}, "kind"),
    ],
)
def test_a_bad_notifier_declaration_names_its_field(spec: dict[str, Any], field_name: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        notifier_from_dict(spec)
    assert error.value.field == field_name
    assert error.value.status == 422


ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    if shutil.which(ALERTMANAGER) is None:
        pytest.skip(f"{ALERTMANAGER} is not installed (apt-get install prometheus-alertmanager)")
    config = tmp_path / "alertmanager.yml"
    config.write_text('route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n')
    port = free_port()
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                if httpx.get(f"{url}/-/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"alertmanager did not start: {process.stderr!r}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=WAIT_S)


def test_a_real_alertmanager_lists_the_firing_alert_until_it_resolves(alertmanager: str) -> None:
    record = Record()
    sender = delivery([AlertmanagerNotifier(alertmanager)], record)
    sender.start()
    started = datetime.now(UTC)
    sender.submit(notification(starts_at=started))
    record.wait(1)

    alerts = httpx.get(f"{alertmanager}/api/v2/alerts").json()
    [alert] = [a for a in alerts if a["labels"]["alertname"] == "churn-drift"]
    assert alert["labels"]["feature"] == "tenure"
    assert alert["labels"]["endpoint"] == "churn"
    assert alert["annotations"]["threshold"] == "0.2"
    assert alert["status"]["state"] == "active"

    sender.submit(notification("resolved", starts_at=started, ends_at=datetime.now(UTC)))
    record.wait(2)
    sender.stop()
    assert [o.delivered for o in record.outcomes] == [True, True]
    alerts = httpx.get(f"{alertmanager}/api/v2/alerts").json()
    assert [a for a in alerts if a["labels"]["alertname"] == "churn-drift"] == []
