"""Tenants (organisations), their domains, users, groups."""
