"""The data: raw spans (llm_traces), rollups (unmanaged, built in SQL) and model prices."""

from metrics.models.pricing import ModelPrice
from metrics.models.rollups import (
    ROLLUP_MODELS,
    MetricsRollup1Day,
    MetricsRollup1Hour,
    MetricsRollup1Min,
    SessionActivity1Day,
    UserActivity1Day,
)
from metrics.models.spans import Span

__all__ = [
    "ROLLUP_MODELS",
    "MetricsRollup1Day",
    "MetricsRollup1Hour",
    "MetricsRollup1Min",
    "ModelPrice",
    "SessionActivity1Day",
    "Span",
    "UserActivity1Day",
]
