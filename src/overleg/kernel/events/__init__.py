"""Domain events: the transactional outbox and the broker that fans them out."""
