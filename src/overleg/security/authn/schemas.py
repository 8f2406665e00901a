"""Sign-in and MFA DTOs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from overleg.kernel.schemas import InputModel


class _In(InputModel):
    pass


class SignInRequest(_In):
    email: str = Field(min_length=3, max_length=320, examples=["olivia@contoso.example"])
    password: str = Field(
        min_length=1, max_length=1024, examples=["correct horse battery staple 42"]
    )
    tenant: str | None = Field(
        default=None, max_length=63, description="organisation short name; needed by guests"
    )


class MfaVerifyRequest(_In):
    code: str | None = Field(
        default=None, max_length=12, description="6-digit TOTP code", examples=["492039"]
    )
    recovery_code: str | None = Field(
        default=None,
        max_length=40,
        description="instead of a code",
        examples=["7ypa-x9sq-mydv-1ghj"],
    )


class SignInResponse(BaseModel):
    status: Literal["signed_in", "mfa_required", "mfa_enrolment_required"]
    token: str = Field(description="session token; browsers get it as an HttpOnly cookie too")
    csrf_token: str = Field(description="send as X-CSRF-Token on unsafe requests with the cookie")
    must_change_password: bool = False


class TotpEnrolment(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str
    qr_png: str = Field(description="data: URI of a PNG QR code")


class TotpActivate(_In):
    code: str = Field(max_length=12)


class RecoveryCodes(BaseModel):
    codes: list[str] = Field(description="shown once; each works one time")


class PasswordChange(_In):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class Me(BaseModel):
    id: str
    tenant_id: str
    email: str
    display_name: str
    kind: str
    admin_roles: list[str]
    mfa_enabled: bool
    session_state: str
    must_change_password: bool
    csrf_token: str | None = Field(
        default=None,
        description="this session's token for X-CSRF-Token (a web page reloaded keeps its "
        "cookie, not the token it got at sign-in)",
    )
