"""The spine: principal, authentication, authorization, content gate."""
