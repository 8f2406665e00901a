"""HTTP transport only: parse, validate, call a service, map errors to problems."""
