"""Process settings from ``OVERLEG_*`` environment variables or ``overleg.toml``.

Tenant policies are NOT here: they are data, versioned in the database (``policy/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OVERLEG_", toml_file="overleg.toml", extra="forbid", validate_default=True
    )

    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str | None = None
    database_url: str | None = None
    redis_url: str | None = None

    # realtime: the event outbox, the WebSocket gateway (/api/v1/events) and presence
    events_retention_seconds: int = Field(default=86_400, ge=60)  # missed events replayable
    events_queue_size: int = Field(default=256, ge=2)  # per connection; overflow disconnects
    events_replay_max: int = Field(default=500, ge=1)  # more missed than this: "resync"
    events_poll_seconds: float = Field(default=2.0, gt=0)  # relay's safety-net outbox poll
    events_session_check_seconds: float = Field(default=30.0, gt=0)  # idle sockets' sessions
    events_purge_interval_seconds: float = Field(default=3600.0, ge=0)  # 0: a job purges
    #: how often each node purges teams deleted 30 days ago (0: only `overleg teams purge`)
    teams_purge_interval_seconds: float = Field(default=86400.0, ge=0)
    events_max_client_message_bytes: int = Field(default=4096, ge=256)
    presence_ttl_seconds: int = Field(default=45, ge=3)  # a dead node's users go offline

    # keys: "local" keyring file protected by a master key, or a PKCS#11 HSM
    key_provider: Literal["local", "pkcs11"] = "local"
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    keyring_file: Path | None = None
    pkcs11_lib: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token_label: str = "overleg"  # noqa: S105 (a label)
    pkcs11_pin: SecretStr | None = None

    # password hashing (argon2id); defaults follow RFC 9106's second recommended option
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    # sessions
    session_idle_minutes: int = Field(default=60, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    step_up_minutes: int = Field(default=15, ge=1)
    cookie_secure: bool | None = None  # None: secure when public_base_url is https

    # sign-in throttling
    throttle_account_ip_threshold: int = 5
    throttle_account_threshold: int = 20
    throttle_ip_threshold: int = 50
    throttle_max_delay_seconds: int = 900

    # DNS for domain verification: "host" or "host:port" entries; empty = the system resolver
    dns_nameservers: list[str] = Field(default_factory=list)

    # HTTP
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    trusted_proxies: list[str] = Field(default_factory=list)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _fill_paths(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'overleg.db'}"
        if self.master_key_file is None:
            self.master_key_file = self.data_dir / "master.key"
        if self.keyring_file is None:
            self.keyring_file = self.data_dir / "keyring.json"
        if self.public_base_url is None:
            self.public_base_url = f"http://{self.host}:{self.port}"
        if self.cookie_secure is None:
            self.cookie_secure = self.public_base_url.startswith("https://")
        return self

    @property
    def db_url(self) -> str:
        assert self.database_url is not None
        return self.database_url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
