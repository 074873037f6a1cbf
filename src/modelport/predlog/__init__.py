"""The prediction log: records, the Parquet store, the background recorder, feedback."""

from modelport.predlog.feedback import FeedbackItem, FeedbackResult, FeedbackStore
from modelport.predlog.parquet import ParquetPredictionLog
from modelport.predlog.recorder import Recorder
from modelport.predlog.records import PredictionRecord

__all__ = [
    "FeedbackItem",
    "FeedbackResult",
    "FeedbackStore",
    "ParquetPredictionLog",
    "PredictionRecord",
    "Recorder",
]
