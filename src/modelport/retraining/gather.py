"""The data of a retrain: an endpoint's served rows of a window, joined with their labels.

Only rows that answered a caller count (roles ``primary`` and ``canary``): a shadow or
baseline row is a background copy of a request already counted, and ``batch`` rows were
never served. A row is its ``(request_id, row)`` key, kept once. Features come back as
the parent version's input schema names it; labels as the log spells them (class names
as text, regression values as numbers). ``--with-reference`` adds the parent's stored
reference sample to the training rows (never to the holdout: the holdout measures the
traffic the new version will serve).

>>> import pandas as pd
>>> fingerprint(pd.DataFrame({"x": [1.0, 2.0]}), pd.Series(["a", "b"]))[:7]
'sha256:'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.compute as pc

from modelport.errors import ValidationFailed
from modelport.predlog import columns as col
from modelport.predlog.feedback import FeedbackStore
from modelport.predlog.reader import PredictionLog, WindowSpec, join_labels
from modelport.registry.records import ModelVersion
from modelport.registry.service import Registry
from modelport.schema import label_text
from modelport.vocabulary import SERVED_ROLES

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Gathered:
    """Labelled rows of the window, oldest first, and the reference rows added."""

    features: pd.DataFrame
    labels: pd.Series
    # When each logged row was served (the time split orders by it).
    served_at: np.ndarray[Any, Any]
    reference_features: pd.DataFrame | None = None
    reference_labels: pd.Series | None = None

    @property
    def logged_rows(self) -> int:
        return len(self.features)

    @property
    def reference_rows(self) -> int:
        return 0 if self.reference_features is None else len(self.reference_features)


def gather(
    log: PredictionLog,
    feedback: FeedbackStore,
    endpoint: str,
    parent: ModelVersion,
    start: datetime,
    end: datetime,
) -> Gathered:
    """The endpoint's served, labelled rows of ``[start, end)``."""
    schema = parent.input_schema
    names = [col.feature(name) for name in schema.names]
    window = log.window(endpoint, WindowSpec(start, end), roles=[str(r) for r in SERVED_ROLES])
    table = window.table([col.REQUEST_ID, col.ROW, col.TS, col.STATUS, *names])
    table = table.filter(pc.equal(table[col.STATUS], col.STATUS_OK))
    labels = feedback.labels(endpoint=endpoint, request_ids=set(table[col.REQUEST_ID].to_pylist()))
    joined = join_labels(table, labels, keep_unlabelled=False)
    frame = joined.to_pandas()
    frame = frame.drop_duplicates(subset=col.KEY, keep="first").reset_index(drop=True)
    label_column = col.LABEL_VALUE if parent.output.kind == "regression" else col.LABEL
    frame = frame[frame[label_column].notna()].reset_index(drop=True)
    features = frame[names].rename(columns=col.feature_name)
    served_at = frame[col.TS].to_numpy()
    return Gathered(features, frame[label_column].rename("label"), served_at)


def add_reference(gathered: Gathered, registry: Registry, parent: ModelVersion) -> None:
    """Add the parent's stored reference sample (features and target) to the training rows;
    a parent without a labelled reference is refused naming ``with_reference``."""
    import pandas as pd  # here: commands importing this module skip pandas

    frame = registry.reference_frame(parent)
    if frame is None:
        raise ValidationFailed(
            f"{parent.ref} has no stored reference sample to add (--with-reference)",
            field="with_reference",
        )
    if not parent.target or parent.target not in frame.columns:
        raise ValidationFailed(
            f"the reference sample of {parent.ref} has no labels (it was registered without "
            "--target); retrain without --with-reference",
            field="with_reference",
        )
    labels = frame[parent.target]
    if parent.output.kind == "regression":
        labels = pd.to_numeric(labels, errors="coerce")
    else:
        labels = labels.map(label_text).where(labels.notna())
    keep = labels.notna().to_numpy()
    gathered.reference_features = frame.loc[keep, parent.input_schema.names].reset_index(drop=True)
    gathered.reference_labels = labels[keep].rename("label").reset_index(drop=True)


def fingerprint(features: pd.DataFrame, labels: pd.Series) -> str:
    """``sha256:<hex>`` of the rows and labels in the order given, column names included."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, features.columns)).encode())
    rows = pd.util.hash_pandas_object(features, index=False).to_numpy()
    digest.update(rows.tobytes())
    digest.update(pd.util.hash_pandas_object(labels, index=False).to_numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"
