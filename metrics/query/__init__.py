"""The query engine: catalog (what can be asked) → spec (validated) → plan → SQL → result. No HTTP here."""
