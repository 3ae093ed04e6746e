"""Getting spans in: OTLP decode → attribute mapping → validate, price, store (one pipeline)."""
