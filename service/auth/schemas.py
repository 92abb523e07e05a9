"""Request and response bodies of the admin API for operators and API clients."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from service.auth.roles import ROLES, Role
from service.errors import reworded
from service.identifiers import siren_problem
from service.patterns import ONE_LINE, SCOPE, SIREN

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=ONE_LINE)
]


# An e-mail address as operators' contacts have them (RFC 5321/5322 "dot-atom" form, ASCII):
# a local part of the characters RFC 5322 allows unquoted, one @, and a domain name of
# letters, digits and hyphens with at least one dot and an alphabetic (or punycode) top-level
# label. Quoted local parts and non-ASCII addresses are refused: no contact needs them, and a
# stricter check than "contains @" catches the typos that matter. No DNS lookup.
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TOP_LABEL = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")


def email_problem(value: str) -> str | None:
    """Why `value` is not a usable e-mail address, or None."""
    if value.count("@") != 1:
        return "an e-mail address has exactly one @, e.g. contact@example.fr"
    local, domain = value.split("@")
    if len(value) > 254:
        return "longer than 254 characters"
    if not local or len(local) > 64 or not _LOCAL.match(local):
        return (
            f"{local!r} before the @ is not a mailbox name (1 to 64 letters, digits or"
            " !#$%&'*+/=?^_`{|}~- characters, with single dots between them)"
        )
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return f"{domain!r} after the @ is not a domain name such as example.fr"
    if not _TOP_LABEL.match(labels[-1]):
        return f"{domain!r} does not end in a top-level domain such as .fr"
    return None


# A phone number: international (+, country code and number: 8 to 15 digits, ITU-T E.164) or
# French national (10 digits starting with 0); spaces, dots, hyphens and parentheses between
# the digits are kept as written.
_PHONE_CHARS = re.compile(r"^\+?[0-9 .()-]+$")


def phone_problem(value: str) -> str | None:
    """Why `value` is not a usable phone number, or None."""
    digits = re.sub(r"[^0-9]", "", value)
    if _PHONE_CHARS.match(value) and (
        (value.startswith("+") and 8 <= len(digits) <= 15)
        or (not value.startswith("+") and re.fullmatch(r"0[1-9][0-9]{8}", digits))
    ):
        return None
    return (
        "not a phone number: +<country code><number> (8 to 15 digits, e.g. +33 4 72 00 00 00)"
        " or a French number of 10 digits starting with 0 (e.g. 04 72 00 00 00)"
    )


def _checked(problem: Callable[[str], str | None]) -> Callable[[str], str]:
    def check(value: str) -> str:
        reason = problem(value)
        if reason:
            raise ValueError(reason)
        return value

    return check


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=ONE_LINE),
    AfterValidator(_checked(email_problem)),
]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=40, pattern=ONE_LINE),
    AfterValidator(_checked(phone_problem)),
]


class OperatorCreate(BaseModel):
    """An operator, as the admin API and `registry operators create` both validate it."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    # its key checked with the other fields, so that one 422 says every one that is wrong
    siren: Annotated[
        str, StringConstraints(pattern=SIREN), AfterValidator(_checked(siren_problem))
    ] = Field(description="SIREN of the organisation (9 digits, Luhn key checked).")
    contact_email: Email | None = Field(
        default=None, description="Contact e-mail, e.g. contact@example.fr (no DNS lookup)."
    )
    contact_phone: Phone | None = Field(
        default=None,
        description="Contact phone: +<country code><number> (E.164, 8 to 15 digits) or a"
        " French 10-digit number starting with 0; spaces, dots, hyphens kept as written.",
    )


class OperatorRead(BaseModel):
    id: uuid.UUID
    name: str
    siren: str
    contact_email: str | None
    contact_phone: str | None
    created_at: datetime


# The field each role's key needs and no other role's key takes, in words.
_ROLE_FIELD = {
    "operator_id": ("operator", "the operator whose cabins the key manages"),
    "scope": ("regulator", "its scope, national or region:<INSEE region code>"),
}


def _role_field_reason(role: str, field: str, kind: str) -> str | None:
    needed_by, what = _ROLE_FIELD[field]
    a_role = f"{'an' if role[0] in 'aeiou' else 'a'} {role}"
    if kind == "missing":
        return f"required for {a_role} key: {what}"
    if kind == "extra_forbidden" and needed_by != role:
        return f"{a_role} key takes no {field}; only {needed_by} keys have one"
    return None


class _NewClient(BaseModel):
    """A new client; a missing or misplaced `operator_id` or `scope` is said for the role
    (that it is required, or not a field, does not say why)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _role_fields_in_words(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        try:
            return handler(data)
        except ValidationError as error:
            role = str(get_args(cls.model_fields["role"].annotation)[0])

            def for_the_role(e: ErrorDetails) -> str | None:
                field = e["loc"][0] if len(e["loc"]) == 1 else None
                if field not in _ROLE_FIELD:
                    return None
                return _role_field_reason(role, str(field), e["type"])

            raise reworded(error, for_the_role) from None


class OperatorClientCreate(_NewClient):
    role: Literal["operator"]
    name: Name | None = Field(default=None, description="Label of the client (default: its role).")
    operator_id: uuid.UUID = Field(description="The operator whose cabins the key manages.")


class RegulatorClientCreate(_NewClient):
    role: Literal["regulator"]
    name: Name | None = Field(default=None, description="Label of the client (default: its role).")
    scope: Annotated[str, StringConstraints(pattern=SCOPE)] = Field(
        description="`national` or `region:<INSEE region code>`."
    )


class AdminClientCreate(_NewClient):
    role: Literal["admin"]
    name: Name | None = Field(default=None, description="Label of the client (default: its role).")


_ROLES = ", ".join(repr(role) for role in ROLES)  # as Pydantic lists a union's tags


def _role_given(body: Any) -> Any:
    """A body without a role is refused naming the roles there are, as an unknown role is
    (Pydantic's own error for a missing tag names none)."""
    if isinstance(body, dict) and body.get("role") is None:
        raise PydanticCustomError(
            "union_tag_not_found",
            "Unable to extract tag using discriminator {discriminator}",
            {"discriminator": "'role'", "expected_tags": _ROLES},
        )
    return body


ClientCreate = Annotated[
    OperatorClientCreate | RegulatorClientCreate | AdminClientCreate,
    Discriminator("role"),
    BeforeValidator(_role_given),
]
"""A new client: an operator's (with its operator), a regulator's (with its scope) or an
admin's; the admin API and `registry clients create` both validate it."""


class ClientRead(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    operator_id: uuid.UUID | None
    scope: str | None
    active: bool
    created_at: datetime


class ClientPage(BaseModel):
    items: list[ClientRead]
    next: str | None = Field(description="URL of the next page; null on the last page.")


class ClientCreated(ClientRead):
    key: str = Field(description="The API key, shown this once: only its hash is stored.")
