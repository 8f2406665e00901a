"""The object stores under test: the local directory and S3 (moto in server mode)."""

from tests.fixtures.s3 import (
    moto_server,
    refusing_endpoint,
    s3_bucket,
    s3_proxy,
    silent_endpoint,
)

__all__ = ["moto_server", "refusing_endpoint", "s3_bucket", "s3_proxy", "silent_endpoint"]
