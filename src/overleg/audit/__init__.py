"""Hash-chained, append-only audit log: record, search, export, verify."""
