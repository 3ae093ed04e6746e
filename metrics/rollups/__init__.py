"""Rollups: per-bucket aggregates of llm_traces, kept exact by the ingest transaction."""
