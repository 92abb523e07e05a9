"""Request and response bodies of the admin API for operators and API clients."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NO_NUL = r"^[^\x00]*$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
Role = Literal["operator", "regulator", "admin"]


class OperatorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    siren: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")] = Field(
        description="SIREN of the organisation (9 digits, Luhn key checked)."
    )
    contact_email: Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)] | None = None
    contact_phone: Annotated[str, StringConstraints(max_length=40, pattern=NO_NUL)] | None = None


class OperatorRead(BaseModel):
    id: uuid.UUID
    name: str
    siren: str
    contact_email: str | None
    contact_phone: str | None
    created_at: datetime


class OperatorClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["operator"]
    name: Name | None = Field(default=None, description="Label of the client (default: its role).")
    operator_id: uuid.UUID = Field(description="The operator whose cabins the key manages.")


class RegulatorClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["regulator"]
    name: Name | None = Field(default=None, description="Label of the client (default: its role).")
    scope: Annotated[str, StringConstraints(pattern=r"^(?:national|region:[0-9]{2,3})$")] = Field(
        description="`national` or `region:<INSEE region code>`."
    )


class AdminClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["admin"]
    name: Name | None = Field(default=None, description="Label of the client (default: its role).")


ClientCreate = Annotated[
    OperatorClientCreate | RegulatorClientCreate | AdminClientCreate,
    Field(discriminator="role"),
]
"""A new client: an operator's (with its operator), a regulator's (with its scope) or an
admin's."""


class ClientRead(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    operator_id: uuid.UUID | None
    scope: str | None
    active: bool
    created_at: datetime


class ClientList(BaseModel):
    clients: list[ClientRead]


class ClientCreated(ClientRead):
    key: str = Field(description="The API key, shown this once: only its hash is stored.")
