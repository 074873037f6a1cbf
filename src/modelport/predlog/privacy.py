"""What of a request's features may reach the disk: per feature ``keep``, ``hash``,
``drop`` or ``redact`` (settings ``privacy.models.<model>`` and
``privacy.endpoints.<endpoint>``; an endpoint's rule for a feature wins over its model's).

The data plane applies the rules once per request, before the record is queued for the
log and before any listener (live monitoring) sees it, so a raw value of a protected
feature never leaves the request's memory. A request answers the same either way: the
model always sees the raw values.

- ``hash``: HMAC-SHA256 keyed with the secret in the environment variable
  ``privacy.secret_env``, as 64 hex digits. The same value always gives the same digest,
  so joins, group-bys and category counts still work. A number is hashed over its
  float text (``repr(float(v))``: 35 and 35.0 hash alike), so the logged column is text.
- ``redact``: the fixed marker ``[redacted]`` where a value was given.
- ``drop``: the column is left out of the log.

A missing value stays missing under every rule. Live monitoring sees a hashed category
as a category (its digest); a hashed number, a redacted or a dropped feature it sees as
missing, so its drift and range checks are skipped rather than judged on digests.

>>> from modelport.config import PrivacySettings
>>> rules = FieldRules(PrivacySettings(endpoints={"e": {"plan": "redact"}}), secret=None)
>>> batch = Batch({"plan": np.array(["basic", None], dtype=object)}, 2)
>>> rules.apply("e", "m", batch).logged.columns["plan"].tolist()
['[redacted]', None]
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.batch import Batch
from modelport.config import FieldRule, PrivacySettings
from modelport.errors import ConfigError

REDACTED = "[redacted]"
Array = np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class PrivateBatch:
    """A request's features as the log may keep them, and as monitoring may count them
    (both the original batch when no rule applies)."""

    logged: Batch
    monitored: Batch

    @property
    def protected(self) -> bool:
        return self.logged is not self.monitored


class FieldRules:
    """The privacy rules of every endpoint and model, resolved once per pair."""

    def __init__(self, settings: PrivacySettings, secret: bytes | None) -> None:
        self.settings = settings
        self._secret = secret
        self._resolved: dict[tuple[str, str], dict[str, FieldRule]] = {}

    @classmethod
    def from_settings(
        cls, settings: PrivacySettings, environ: Mapping[str, str] | None = None
    ) -> FieldRules:
        """Rules with the hash secret read from the environment; ConfigError if a
        ``hash`` rule is configured and the secret is missing or empty."""
        environ = os.environ if environ is None else environ
        secret = environ.get(settings.secret_env, "")
        if not secret and _uses_hash(settings):
            raise ConfigError(
                f"privacy rules hash features but the environment variable "
                f"{settings.secret_env} (privacy.secret_env) holding the key is not set",
                field="privacy.secret_env",
            )
        return cls(settings, secret.encode() if secret else None)

    @property
    def configured(self) -> bool:
        return bool(self.settings.models or self.settings.endpoints)

    def rules_for(self, endpoint: str, model: str) -> dict[str, FieldRule]:
        """Feature -> rule for every feature that is not kept as is."""
        key = (endpoint, model)
        found = self._resolved.get(key)
        if found is None:
            merged = {
                **self.settings.models.get(model, {}),
                **self.settings.endpoints.get(endpoint, {}),
            }
            found = {name: rule for name, rule in merged.items() if rule != "keep"}
            self._resolved[key] = found
        return found

    def apply(self, endpoint: str, model: str, batch: Batch) -> PrivateBatch:
        rules = self.rules_for(endpoint, model) if self.configured else {}
        if not rules or not any(name in batch.columns for name in rules):
            return PrivateBatch(batch, batch)
        logged: dict[str, Array] = {}
        monitored: dict[str, Array] = {}
        for name, values in batch.columns.items():
            rule = rules.get(name, "keep")
            if rule == "keep":
                logged[name] = monitored[name] = values
                continue
            if rule == "hash":
                logged[name] = self._hashed(values)
            elif rule == "redact":
                logged[name] = _replaced(values, REDACTED)
            # "drop": no logged column at all
            categorical = values.dtype == object
            monitored[name] = logged[name] if rule == "hash" and categorical else _missing(values)
        return PrivateBatch(Batch(logged, batch.n_rows), Batch(monitored, batch.n_rows))

    def digest(self, value: Any) -> str:
        """The logged form of one value under ``hash`` (what joins and lookups compare).

        >>> rules = FieldRules(PrivacySettings(), secret=b"k")
        >>> rules.digest(35) == rules.digest(35.0), len(rules.digest("basic"))
        (True, 64)
        """
        if self._secret is None:
            raise ConfigError(
                f"no hash key: set the environment variable {self.settings.secret_env}",
                field="privacy.secret_env",
            )
        text = value if isinstance(value, str) else repr(float(value))
        return hmac.new(self._secret, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def _hashed(self, values: Array) -> Array:
        out = np.empty(len(values), dtype=object)
        seen: dict[Any, str] = {}
        for index, value in enumerate(values.tolist()):
            if _is_missing(value):
                out[index] = None
                continue
            digest = seen.get(value)
            if digest is None:
                digest = seen[value] = self.digest(value)
            out[index] = digest
        return out


def _uses_hash(settings: PrivacySettings) -> bool:
    tables = [*settings.models.values(), *settings.endpoints.values()]
    return any(rule == "hash" for table in tables for rule in table.values())


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _replaced(values: Array, marker: str) -> Array:
    out = np.empty(len(values), dtype=object)
    for index, value in enumerate(values.tolist()):
        out[index] = None if _is_missing(value) else marker
    return out


def _missing(values: Array) -> Array:
    if values.dtype == object:
        return np.full(len(values), None, dtype=object)
    return np.full(len(values), np.nan)
