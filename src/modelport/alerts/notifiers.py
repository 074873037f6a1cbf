"""Where alert notifications go: a tiny protocol and its receivers.

A :class:`Notifier` has one method, ``send(notification)``, which returns when the
receiver has accepted the notification (a 2xx answer; redirects are not followed) and
raises otherwise (:class:`NotifierError` for the HTTP receivers; any exception is a
failed attempt, and retries belong to :mod:`modelport.alerts.delivery`). The receivers are
synchronous (``httpx.Client``) with explicit timeouts, because each runs on its own
delivery thread and a slow one must only ever hold up itself.

- :class:`WebhookNotifier` POSTs the notification as JSON, or in ``slack`` format a body
  whose ``text`` field is one readable line (Slack incoming webhooks, Mattermost...).
- :class:`AlertmanagerNotifier` POSTs ``[alert]`` to ``{url}/api/v2/alerts`` (the
  Alertmanager v2 API); a resolved notification carries ``endsAt``.
- :class:`LogNotifier` writes one line to the server log.

:func:`build_notifier` / :func:`notifier_from_dict` make one from the fields the CLI,
``modelport.toml`` and the admin API share (``name``, ``kind``, ``url``, ``format``),
refusing bad input with a ``ValidationFailed`` that names the field.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from modelport.errors import ValidationFailed
from modelport.names import check_name

logger = logging.getLogger(__name__)

Status = Literal["firing", "resolved"]
WebhookFormat = Literal["json", "slack"]
WEBHOOK_FORMATS: tuple[str, ...] = ("json", "slack")
NOTIFIER_KINDS: tuple[str, ...] = ("webhook", "alertmanager", "log")
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Notification:
    """One alert transition worth telling someone about."""

    rule: str
    status: Status
    endpoint: str
    metric: str
    value: float | None
    threshold: float | None
    starts_at: datetime
    severity: str = "warning"
    feature: str | None = None
    version: int | None = None
    ends_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    link: str | None = None

    def summary(self) -> str:
        """One readable line, the Slack ``text`` and the Alertmanager ``summary``.

        >>> from datetime import datetime, UTC
        >>> Notification("churn-drift", "firing", "churn", "drift.psi", 0.31, 0.2,
        ...              datetime(2026, 1, 5, tzinfo=UTC), feature="tenure").summary()
        '[FIRING] churn-drift: drift.psi{feature=tenure} on churn = 0.31 (threshold 0.2, warning)'
        """
        scope = f"{{feature={self.feature}}}" if self.feature else ""
        version = f" v{self.version}" if self.version is not None else ""
        line = (
            f"[{self.status.upper()}] {self.rule}: {self.metric}{scope} on "
            f"{self.endpoint}{version} = {_number(self.value)} "
            f"(threshold {_number(self.threshold)}, {self.severity})"
        )
        return f"{line} {self.link}" if self.link else line

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of a webhook: every field, times in ISO 8601."""
        return {
            "rule": self.rule,
            "status": self.status,
            "endpoint": self.endpoint,
            "metric": self.metric,
            "feature": self.feature,
            "version": self.version,
            "value": self.value,
            "threshold": self.threshold,
            "severity": self.severity,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "link": self.link,
            "summary": self.summary(),
        }


class Notifier(Protocol):
    """A receiver: ``send`` returns once delivered and raises on any failure."""

    name: str

    def send(self, notification: Notification) -> None: ...


def validate_url(url: str, field_name: str = "url") -> str:
    """``url`` if it is http(s) with a host, else ``ValidationFailed`` naming the field."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise ValidationFailed(f"{field_name}: {exc}", field=field_name) from exc
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationFailed(
            f"{field_name} must be an http:// or https:// URL with a host, got {url!r}",
            field=field_name,
        )
    return url


def validate_format(value: str) -> WebhookFormat:
    if value == "json":
        return "json"
    if value == "slack":
        return "slack"
    raise ValidationFailed(
        f"format must be one of {', '.join(WEBHOOK_FORMATS)}, got {value!r}", field="format"
    )


class NotifierError(RuntimeError):
    """A receiver did not accept a notification. The message names only the receiver's
    origin (scheme, host, port): webhook paths often carry a secret token."""


class _HttpNotifier:
    def __init__(self, name: str, url: str, timeout_s: float) -> None:
        # Imported with the first HTTP notifier: a process with none (the CLI, a server
        # that only logs alerts) does without httpx's ~0.1 s and its memory.
        import httpx

        self.name = name
        self.url = validate_url(url)
        parts = urlsplit(self.url)
        self.origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    def _post(self, url: str, body: Any) -> None:
        import httpx

        try:
            response = self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            reason = str(exc).replace(url, self.origin) or "no detail"
            raise NotifierError(f"{type(exc).__name__} from {self.origin}: {reason}") from None
        if not response.is_success:
            raise NotifierError(f"HTTP {response.status_code} from {self.origin}")

    def close(self) -> None:
        self._client.close()


class WebhookNotifier(_HttpNotifier):
    """POST the notification as JSON (``json``) or as ``{"text": line}`` (``slack``)."""

    def __init__(
        self,
        url: str,
        format: str = "json",
        *,
        name: str = "webhook",
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.format = validate_format(format)
        super().__init__(name, url, timeout_s)

    def body(self, notification: Notification) -> dict[str, Any]:
        if self.format == "slack":
            return {"text": notification.summary()}
        return notification.to_dict()

    def send(self, notification: Notification) -> None:
        self._post(self.url, self.body(notification))


class AlertmanagerNotifier(_HttpNotifier):
    """Post alerts to Alertmanager's v2 API (``POST {url}/api/v2/alerts``)."""

    def __init__(
        self, url: str, *, name: str = "alertmanager", timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        super().__init__(name, url.rstrip("/"), timeout_s)

    def alert(self, notification: Notification) -> dict[str, Any]:
        """One Alertmanager alert; labels identify it, so they stay stable across updates."""
        labels = {
            **notification.labels,
            "alertname": notification.rule,
            "endpoint": notification.endpoint,
            "metric": notification.metric,
            "severity": notification.severity,
        }
        if notification.feature:
            labels["feature"] = notification.feature
        if notification.version is not None:
            labels["version"] = str(notification.version)
        annotations = {
            **notification.annotations,
            "summary": notification.summary(),
            "value": _number(notification.value),
            "threshold": _number(notification.threshold),
        }
        alert: dict[str, Any] = {
            "labels": labels,
            "annotations": annotations,
            "startsAt": _rfc3339(notification.starts_at),
        }
        if notification.link:
            annotations["link"] = notification.link
            alert["generatorURL"] = notification.link
        if notification.status == "resolved":
            alert["endsAt"] = _rfc3339(notification.ends_at or notification.starts_at)
        return alert

    def send(self, notification: Notification) -> None:
        self._post(f"{self.url}/api/v2/alerts", [self.alert(notification)])


class LogNotifier:
    """Write the notification to the server log (warning when firing, info when resolved)."""

    def __init__(self, *, name: str = "log") -> None:
        self.name = name

    def send(self, notification: Notification) -> None:
        level = logging.WARNING if notification.status == "firing" else logging.INFO
        logger.log(level, "alert %s", notification.summary())


def build_notifier(
    name: str,
    kind: str,
    *,
    url: str | None = None,
    format: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> WebhookNotifier | AlertmanagerNotifier | LogNotifier:
    """The notifier ``kind`` called ``name``; a ``ValidationFailed`` names the bad field."""
    check_name("name", name, field="name")
    if kind == "log":
        if url is not None:
            raise ValidationFailed("url: a log notifier takes no url", field="url")
        if format is not None:
            raise ValidationFailed("format: only a webhook notifier has a format", field="format")
        return LogNotifier(name=name)
    if kind not in NOTIFIER_KINDS:
        raise ValidationFailed(
            f"kind must be one of {', '.join(NOTIFIER_KINDS)}, got {kind!r}", field="kind"
        )
    if not url:
        raise ValidationFailed(f"url: a {kind} notifier needs an http(s) url", field="url")
    if kind == "webhook":
        return WebhookNotifier(url, format or "json", name=name, timeout_s=timeout_s)
    if format is not None:
        raise ValidationFailed("format: only a webhook notifier has a format", field="format")
    return AlertmanagerNotifier(url, name=name, timeout_s=timeout_s)


def notifier_from_dict(
    data: Mapping[str, object],
) -> WebhookNotifier | AlertmanagerNotifier | LogNotifier:
    """``{"name": "ops", "kind": "webhook", "url": "https://...", "format": "slack"}``."""
    allowed = ("name", "kind", "url", "format")
    for key, value in data.items():
        if key not in allowed:
            raise ValidationFailed(
                f"unknown notifier field {key!r}; use {', '.join(allowed)}", field=key
            )
        if not isinstance(value, str):
            raise ValidationFailed(f"{key} must be a string", field=key)
    for key in ("name", "kind"):
        if key not in data:
            raise ValidationFailed(f"{key} is required", field=key)
    strings = {key: str(value) for key, value in data.items()}
    return build_notifier(
        strings["name"], strings["kind"], url=strings.get("url"), format=strings.get("format")
    )


def _rfc3339(moment: datetime) -> str:
    """Alertmanager needs a zone; a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"
