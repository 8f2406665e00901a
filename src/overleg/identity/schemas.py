"""Identity DTOs. Write models forbid unknown fields so typos are errors, not no-ops."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from overleg.kernel.schemas import InputModel
from overleg.security.principal import Role

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
AdminRole = Literal["global_admin", "security_admin", "compliance_admin", "user_admin"]


class _Write(InputModel):
    pass


class TenantCreate(_Write):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(description="short lowercase name, used in URLs and sign-in")
    domain: str | None = Field(default=None, description="first e-mail domain of the organisation")

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError("use 1-63 lowercase letters, digits and hyphens")
        return v

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str | None) -> str | None:
        return None if v is None else validate_domain(v)


def validate_domain(v: str) -> str:
    v = v.strip().lower().rstrip(".")
    if not _DOMAIN.match(v):
        raise ValueError("not a valid DNS domain name")
    return v


class TenantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    status: str
    created_at: datetime


class DomainCreate(_Write):
    domain: str = Field(examples=["contoso.example"])

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        return validate_domain(v)


class DomainPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    domain: str
    verified_at: datetime | None
    verification_token: str
    txt_record: str = ""


class UserCreate(_Write):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "mia@contoso.example",
                    "display_name": "Mia de Vries",
                    "department": "HR",
                    "job_title": "Case manager",
                },
                {
                    "email": "sid@contoso.example",
                    "display_name": "Sid Jansen",
                    "admin_roles": ["security_admin"],
                },
                {
                    "email": "gus@northwind.example",
                    "display_name": "Gus (Northwind)",
                    "kind": "guest",
                },
            ]
        }
    )

    email: EmailStr
    display_name: str = Field(min_length=1, max_length=200)
    kind: Literal["member", "guest"] = "member"
    admin_roles: list[AdminRole] = Field(default_factory=list)
    department: str | None = Field(default=None, max_length=100)
    job_title: str | None = Field(default=None, max_length=100)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=50)
    password: str | None = Field(
        default=None, description="initial password; omitted: a one-time password is generated"
    )


class UserUpdate(_Write):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    department: str | None = Field(default=None, max_length=100)
    job_title: str | None = Field(default=None, max_length=100)
    attributes: dict[str, str] | None = Field(default=None, max_length=50)


class RolesUpdate(_Write):
    admin_roles: list[AdminRole]


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    display_name: str
    kind: str
    admin_roles: list[str]
    status: str
    department: str | None
    job_title: str | None
    attributes: dict[str, Any]
    mfa_enabled: bool
    created_at: datetime


class DirectoryUser(BaseModel):
    """What members see of each other."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str
    kind: str
    department: str | None
    job_title: str | None


class UserCreated(BaseModel):
    user: UserPublic
    one_time_password: str | None = Field(
        default=None, description="shown once; the user must change it at first sign-in"
    )


class GroupCreate(_Write):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "HR", "kind": "dynamic", "rule": "user.department -eq 'HR'"},
                {"name": "Works council", "description": "members added by hand"},
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)
    kind: Literal["static", "dynamic"] = "static"
    rule: str | None = Field(
        default=None,
        max_length=2000,
        description="for dynamic groups, e.g. user.department -eq 'HR'",
        examples=["user.department -eq 'HR'"],
    )


class GroupPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    kind: str
    rule: str | None
    created_at: datetime


class GroupMemberAdd(_Write):
    user_id: uuid.UUID


def roles_of(kind: str, admin_roles: list[str]) -> frozenset[Role]:
    base = Role.GUEST if kind == "guest" else Role.MEMBER
    return frozenset({base, *(Role(r) for r in admin_roles)})
