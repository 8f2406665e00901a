"""Process settings from ``OVERLEG_*`` environment variables or ``overleg.toml``.

Tenant policies are NOT here: they are data, versioned in the database (``policy/``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

#: in ``data_dir``: the Janus secrets ``overleg media config`` generated when none were set
MEDIA_SECRETS_FILE = "media-secrets.json"


def read_media_secrets(data_dir: Path) -> dict[str, str]:
    """The secrets stored in ``data_dir``/``MEDIA_SECRETS_FILE`` ({} when there is no file).
    Raises ``ValueError`` for a file that is not a JSON object of strings."""
    path = data_dir / MEDIA_SECRETS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} cannot be read: {e}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"{path} must be a JSON object of strings")
    return data


class JanusServer(BaseModel):
    """One Janus instance Overleg drives (its WebSocket API, on loopback or a private net)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9-]*$")
    url: str = Field(pattern=r"^wss?://", examples=["ws://127.0.0.1:18188"])


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

    # media (meetings' audio and video): the Janus instances Overleg drives over their API;
    # a meeting is placed on the least loaded one. None configured: meetings work without
    # audio and video, and the API says that media is unavailable.
    media_janus: list[JanusServer] = Field(default_factory=list)
    media_api_secret: SecretStr | None = None  # Janus' api_secret, the same on every instance
    media_admin_key: SecretStr | None = None  # the videoroom admin_key: only Overleg makes rooms
    media_ice_address: str | None = None  # the host address put in ICE candidates (None: primary)
    media_recordings_dir: Path | None = None  # raw recordings (default: <data_dir>/recordings-raw)
    #: how often each node looks for stopped recordings to post-process (0: never; tests
    #: and `overleg recordings process` call it directly)
    recordings_process_interval_seconds: float = Field(default=5.0, ge=0)
    #: how often each node moves expired recordings to the recycle state and purges them
    recordings_expiry_interval_seconds: float = Field(default=3600.0, ge=0)

    # objects (files, recordings): sealed blobs in a local directory by default, or in an
    # S3-compatible object store (which then sees only ids and ciphertext)
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path | None = None  # local: default <data_dir>/objects
    s3_endpoint_url: str | None = None  # e.g. https://s3.example.net (None: AWS)
    s3_bucket: str = "overleg"
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = ""  # put before every object key, e.g. "prod/"
    #: the size of the parts of a resumable upload (a multiple of 64 KiB)
    files_part_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, multiple_of=64 * 1024)
    files_upload_hours: int = Field(default=24, ge=1)  # an unfinished upload is kept this long
    #: how often each node scans pending uploads (0: never; tests call it directly)
    files_scan_interval_seconds: float = Field(default=2.0, ge=0)

    # malware scanning: ClamAV's clamd (unix socket or host:port), YARA rules, Office macros
    scan_clamd_socket: Path | None = None  # default: <data_dir>/clamd/clamd.sock
    scan_clamd_tcp: str | None = None  # "host:port"; used instead of the socket when set
    scan_clamd_db_dir: Path | None = None  # the signature databases Overleg manages
    scan_yara_dir: Path | None = None  # admins' own rules (*.yar, *.yara); default <data_dir>/yara
    scan_timeout_seconds: float = Field(default=120.0, gt=0)
    #: files up to this size are also inspected in memory (YARA, macros, archive members);
    #: larger ones get clamd's streamed scan only
    scan_deep_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    scan_archive_max_depth: int = Field(default=5, ge=1)
    scan_archive_max_members: int = Field(default=10_000, ge=1)
    scan_archive_max_expanded_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    scan_archive_max_ratio: int = Field(default=200, ge=2)  # expanded / compressed, per member

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
        if self.media_recordings_dir is None:
            self.media_recordings_dir = self.data_dir / "recordings-raw"
        if self.storage_dir is None:
            self.storage_dir = self.data_dir / "objects"
        if self.scan_clamd_socket is None:
            self.scan_clamd_socket = self.data_dir / "clamd" / "clamd.sock"
        if self.scan_clamd_db_dir is None:
            self.scan_clamd_db_dir = self.data_dir / "clamav"
        if self.scan_yara_dir is None:
            self.scan_yara_dir = self.data_dir / "yara"
        if self.media_api_secret is None or self.media_admin_key is None:
            # the environment wins; the file only fills in what it did not set
            stored = read_media_secrets(self.data_dir)
            if self.media_api_secret is None and stored.get("api_secret"):
                self.media_api_secret = SecretStr(stored["api_secret"])
            if self.media_admin_key is None and stored.get("admin_key"):
                self.media_admin_key = SecretStr(stored["admin_key"])
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
