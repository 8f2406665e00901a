"""Domain-agnostic building blocks: errors, ids, clock, database, crypto, events."""
