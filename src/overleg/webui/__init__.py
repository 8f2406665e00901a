"""The web client: its built files, served by Overleg itself (``serve``), and the OpenAPI
schema its API client is generated from (``openapi``). The sources are in ``web/``."""
