"""Passkey DTOs. WebAuthn options and credentials travel in the JSON forms of WebAuthn
Level 3 (``PublicKeyCredential.parseCreationOptionsFromJSON`` / ``.toJSON()``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from overleg.kernel.schemas import InputModel

_CREDENTIAL = (
    "the credential as `PublicKeyCredential.toJSON()` gives it (base64url fields, as in "
    "WebAuthn Level 3)"
)


class PasskeyPublic(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool = Field(description="a synced passkey (kept in a password manager/cloud)")
    aaguid: str = Field(description="the authenticator model's id (zeros when not disclosed)")


class PasskeyOptions(BaseModel):
    options: dict[str, Any] = Field(
        description="for `PublicKeyCredential.parseCreationOptionsFromJSON` (adding) or "
        "`parseRequestOptionsFromJSON` (signing in); valid for a few minutes, once"
    )


class PasskeySignInOptions(PasskeyOptions):
    ceremony: str = Field(description="send back with the credential: names this sign-in")


class PasskeyCreate(InputModel):
    name: str = Field(min_length=1, max_length=100, examples=["Work laptop"])
    credential: dict[str, Any] = Field(description=_CREDENTIAL)


class PasskeyCreated(BaseModel):
    passkey: PasskeyPublic
    recovery_codes: list[str] | None = Field(
        default=None,
        description="when this passkey is the account's first second factor: recovery "
        "codes, shown only this once",
    )


class PasskeyRename(InputModel):
    name: str = Field(min_length=1, max_length=100)


class PasskeyAssertion(InputModel):
    credential: dict[str, Any] = Field(description=_CREDENTIAL)


class PasskeySignIn(PasskeyAssertion):
    ceremony: str = Field(min_length=20, max_length=100)
