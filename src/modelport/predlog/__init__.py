"""The prediction log: records, the Parquet store, the background recorder, feedback, and
the one contract every reader goes through (:class:`PredictionLog`)."""

from modelport.predlog.feedback import FeedbackItem, FeedbackResult, FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.reader import PredictionLog, WindowSpec, join_labels
from modelport.predlog.recorder import Recorder
from modelport.predlog.records import PredictionRecord

__all__ = [
    "FeedbackItem",
    "FeedbackResult",
    "FeedbackStore",
    "ParquetPredictionLog",
    "PredictionLog",
    "PredictionRecord",
    "Recorder",
    "WindowSpec",
    "join_labels",
]
