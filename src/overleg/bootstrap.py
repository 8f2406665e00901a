"""The composition root: settings -> engine -> key provider -> services -> Runtime.

Nothing else constructs infrastructure. ``build_runtime`` refuses to start on a wrong
master key or a database schema that is behind, with a message saying what to do.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import structlog
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from overleg.files.storage import LocalStore, ObjectStore
from overleg.kernel.crypto.keys import KeyService
from overleg.kernel.crypto.providers.base import KeyProvider
from overleg.kernel.db.session import Database, make_engine
from overleg.kernel.errors import ConfigurationError
from overleg.kernel.events.broker import Broker, RedisBroker
from overleg.kernel.runtime import Runtime
from overleg.security.authn.passwords import PasswordHasher
from overleg.security.authz import enforce
from overleg.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def configure_logging(level: str = "INFO") -> None:
    """JSON logs on stderr, ours and those of libraries (uvicorn, SQLAlchemy) alike.

    Never log secrets or message content: log ids and outcomes.
    """
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)


def make_key_provider(settings: Settings, *, create: bool) -> KeyProvider:
    if settings.key_provider == "pkcs11":
        from overleg.kernel.crypto.providers.pkcs11 import Pkcs11Provider

        if settings.pkcs11_pin is None:
            raise ConfigurationError("OVERLEG_PKCS11_PIN is required with key_provider=pkcs11")
        provider: KeyProvider = Pkcs11Provider(
            settings.pkcs11_lib, settings.pkcs11_token_label, settings.pkcs11_pin.get_secret_value()
        )
    else:
        from overleg.kernel.crypto.providers.local import LocalKeyringProvider, load_master_key

        assert settings.master_key_file is not None and settings.keyring_file is not None
        # Before the master key: on a new installation that is missing too, and the
        # missing keyring is what says what to do.
        if not create and not settings.keyring_file.exists():
            raise ConfigurationError(
                f"No keyring at {settings.keyring_file}. Run `overleg init` first."
            )
        env = settings.master_key.get_secret_value() if settings.master_key else None
        master = load_master_key(env, settings.master_key_file, create)
        provider = LocalKeyringProvider(settings.keyring_file, master)
    provider.check()
    return provider


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def schema_status(database: Database) -> tuple[str | None, str | None]:
    """(revision in the database, newest revision this code knows)."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    async with database.engine.connect() as conn:
        current = await conn.run_sync(_current_revision)
    return current, head


async def check_schema(database: Database) -> None:
    current, head = await schema_status(database)
    known = {
        s.revision
        for s in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    }
    if current is not None and current not in known:
        raise ConfigurationError(
            f"The database schema is at revision {current}, which this version of Overleg "
            "does not know: the database was upgraded by a newer version. Run that version."
        )
    if current != head:
        raise ConfigurationError(
            f"The database schema is at revision {current or 'none'} but this version of "
            f"Overleg needs {head}. Run `overleg db upgrade` (or `overleg init` on a new "
            "installation) first."
        )


def make_broker(settings: Settings) -> Broker:
    """Redis pub/sub when ``OVERLEG_REDIS_URL`` is set (several nodes), else in-process.
    Not connected yet: the app's lifespan starts it."""
    if settings.redis_url:
        return RedisBroker(settings.redis_url)
    return Broker()


def make_object_store(settings: Settings) -> ObjectStore:
    """Where sealed blobs (files, recordings) go: a local directory, or an S3-compatible
    store (``ConfigurationError`` if its settings are wrong; it is not contacted here)."""
    if settings.storage_backend == "s3":
        from overleg.files.storage_s3 import S3Store

        return S3Store.from_settings(settings)
    assert settings.storage_dir is not None
    return LocalStore(settings.storage_dir)


def build_runtime(settings: Settings, *, create: bool = False) -> Runtime:
    """Assemble the runtime. ``create`` allows creating the data dir and master key (init)."""
    if create:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database = Database(make_engine(settings.db_url))
    provider = make_key_provider(settings, create=create)
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    rt = Runtime(
        settings=settings,
        database=database,
        keys=KeyService(provider),
        hasher=hasher,
        broker=make_broker(settings),
        objects=make_object_store(settings),
    )
    database.session_info["runtime"] = rt
    enforce.STEP_UP_MINUTES = settings.step_up_minutes
    return rt
