"""The ``overleg`` admin CLI. It acts through the same services as the API, audited as an
operator principal named after the OS user."""
