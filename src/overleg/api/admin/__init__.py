"""Admin API. Every route needs an admin role that grants the action and a fresh MFA step-up
(both decided by the PDP in the service, not here)."""
