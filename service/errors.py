"""RFC 9457 problem+json: the `Problem` base every domain error subclasses, and the one set of
handlers that renders every error the service can answer — never a stack trace."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, get_args

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from psycopg.errors import UniqueViolation
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from service.patterns import mismatch_reason

log = logging.getLogger("service.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://cabin-registry.example/problems/"


class FieldError(BaseModel):
    field: str = Field(
        description="Where the problem is: a dotted path in the body, or a parameter."
    )
    reason: str = Field(description="Why the value was refused, in plain words.")
    row: int | None = Field(default=None, description="Row number, for bulk input.")


class ProblemDetail(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """A domain error that the API answers with problem+json."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[dict[str, Any] | FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = [e if isinstance(e, FieldError) else FieldError(**e) for e in errors or []]
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [e.model_dump(exclude_none=True) for e in self.errors]
        body.update(self.extensions)
        return body


class BadRequest(Problem):
    status, slug, title = 400, "bad-request", "Bad request"


class InvalidParameter(Problem):
    status, slug, title = 400, "invalid-parameter", "Invalid parameter"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class NotAcceptable(Problem):
    status, slug, title = 406, "not-acceptable", "Not acceptable"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(Problem):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(Problem):
    status, slug, title = 422, "validation-failed", "Validation failed"


class PreconditionRequired(Problem):
    status, slug, title = 428, "precondition-required", "Precondition required"


class TooManyRequests(Problem):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class ServiceUnavailable(Problem):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


class InternalError(Problem):
    status, slug, title = 500, "internal-error", "Internal error"


_STATUS_PROBLEMS: dict[int, type[Problem]] = {
    p.status: p
    for p in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        Conflict,
        PreconditionFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        PreconditionRequired,
        TooManyRequests,
        ServiceUnavailable,
        InternalError,
    )
}


# The request's state key under which BodyLimitMiddleware counts the body's bytes received.
BODY_BYTES_RECEIVED = "body_bytes_received"


def cut_off(request: Request) -> BadRequest:
    """The refusal of a body whose connection closed before its end (a laptop going offline
    mid-upload): the request's exception rolled its transaction back, nothing was written.
    The client's doing, not the service's error (a 500 and a trace)."""
    received = getattr(request.state, BODY_BYTES_RECEIVED, 0)
    again = (
        "Send it again with the same Idempotency-Key."
        if "idempotency-key" in request.headers
        else "Send it again."
    )
    return BadRequest(
        f"The request was cut off before the end of its body; nothing was written. {again}",
        errors=[
            {
                "field": "body",
                "reason": f"the connection closed after {received} bytes, before the end",
            }
        ],
    )


def problem_response(problem: Problem, request: Request | None = None) -> Response:
    instance = request.url.path if request is not None else None
    return Response(
        content=orjson.dumps(problem.body(instance)),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: documents each problem it may answer in openapi.yaml."""
    return {
        status: {
            "description": _STATUS_PROBLEMS[status].title,
            "model": ProblemDetail,
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


def _field_path(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        kind, rest = parts[0], parts[1:]
        if kind == "body":
            return ".".join(rest) or "body"
        return ".".join(rest) or kind
    return ".".join(parts)


# A date as a spreadsheet writes it (day/month/year), and the registry's own form.
_DAY_MONTH_YEAR = re.compile(r"^\s*([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})\s*$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def date_reason(value: Any) -> str:
    """Why `value` is not a date, with the form the registry reads (Pydantic says "invalid
    character in year" of 15/01/2026, which a spreadsheet writes)."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        return f"{value} is not a day of the calendar"
    found = _DAY_MONTH_YEAR.match(value) if isinstance(value, str) else None
    if found is not None:
        try:
            written = date(int(found[3]), int(found[2]), int(found[1])).isoformat()
        except ValueError:
            pass
        else:
            return (
                f"must be a date written YYYY-MM-DD: {value.strip()} is written {written}"
                " if it is day/month/year"
            )
    return "must be a date written YYYY-MM-DD, e.g. 2026-01-15"


# Pydantic's error types, by the registry's words for a value of the wrong type (whatever
# the value came in: a JSON body, a CSV cell, a query or path parameter).
_TYPE_WORDS: dict[str, str] = {
    **dict.fromkeys(("float_type", "float_parsing"), "must be a number, e.g. 90 or 90.5"),
    **dict.fromkeys(
        ("int_type", "int_parsing", "int_parsing_size", "int_from_float"),
        "must be a whole number, e.g. 2",
    ),
    # Lax reading takes 1/0, yes/no and on/off and says so when a string is none of them;
    # `bool_type` is a value no reading takes, or any but true and false read strictly (the
    # what-if's facts, a rule's parameters), where those words would be wrong.
    "bool_parsing": "must be true or false (1/0, yes/no and on/off are read too)",
    "bool_type": "must be true or false",
    **dict.fromkeys(
        ("uuid_type", "uuid_parsing", "uuid_version"),
        "must be a UUID, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    ),
    "string_type": "must be text (a string)",
    "list_type": "must be a list (an array)",
    **dict.fromkeys(
        ("dict_type", "model_type", "model_attributes_type"),
        'must be an object ({"name": value, …})',
    ),
    "finite_number": "must be a finite number",
    **dict.fromkeys(
        ("url_type", "url_parsing", "url_scheme", "url_syntax_violation"),
        "must be a web address starting http:// or https://, e.g. https://example.fr/notice",
    ),
    "missing": "required: it is missing or empty",
    "extra_forbidden": "is not a field the registry takes here; check its name",
}
_DATE_ERRORS = frozenset(
    ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact")
)


def _number(value: Any) -> str:
    """A limit as a person writes it: 1, not 1.0; 0.5 as 0.5."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _characters(n: Any) -> str:
    return f"{_number(n)} character{'' if n == 1 else 's'}"


def _items(n: Any) -> str:
    return f"{_number(n)} item{'' if n == 1 else 's'}"


# Pydantic's error types for a value past a limit, by the registry's words for it; the limit
# is the error's own (its `ctx`), so the words hold for every field that has one.
_LIMIT_WORDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "string_too_short": lambda c: (
        "must not be empty"
        if c.get("min_length") == 1
        else f"must be at least {_characters(c.get('min_length'))} long"
    ),
    "string_too_long": lambda c: f"must be at most {_characters(c.get('max_length'))} long",
    "url_too_long": lambda c: f"must be at most {_characters(c.get('max_length'))} long",
    "too_short": lambda c: (
        "must not be empty"
        if c.get("min_length") == 1
        else f"must hold at least {_items(c.get('min_length'))}"
    ),
    "too_long": lambda c: f"must hold at most {_items(c.get('max_length'))}",
    "greater_than": lambda c: f"must be greater than {_number(c.get('gt'))}",
    "greater_than_equal": lambda c: f"must be at least {_number(c.get('ge'))}",
    "less_than": lambda c: f"must be less than {_number(c.get('lt'))}",
    "less_than_equal": lambda c: f"must be at most {_number(c.get('le'))}",
    "multiple_of": lambda c: f"must be a multiple of {_number(c.get('multiple_of'))}",
}


def _tags(ctx: Mapping[str, Any]) -> str | None:
    """A discriminated union's tags as a person reads them: "operator, regulator or admin"."""
    tags = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
    if not tags:
        return None
    return tags[0] if len(tags) == 1 else f"{', '.join(tags[:-1])} or {tags[-1]}"


def _union_tag_field(error: Mapping[str, Any]) -> str | None:
    """The field that tells a union's kinds apart (a client's `role`), for an error about it:
    Pydantic places that error on the object, the client is told the field."""
    if error.get("type") not in ("union_tag_invalid", "union_tag_not_found"):
        return None
    if not isinstance(error.get("input"), dict):
        return None
    name = str((error.get("ctx") or {}).get("discriminator", "")).strip("'")
    return name if name.isidentifier() else None


def _union_tag_reason(error: Mapping[str, Any]) -> str:
    ctx, value = error.get("ctx") or {}, error.get("input")
    tags = _tags(ctx)
    name = str(ctx.get("discriminator", "")).strip("'")
    if not isinstance(value, dict):
        return _TYPE_WORDS["dict_type"]
    if value.get(name) is None:
        return f"is required; one of {tags}" if tags else "is required"
    return f"must be {tags}" if tags else "is not one of the values the registry takes"


# Every error type Pydantic itself may give: one of them the registry has no words for is
# said in general words, never in Pydantic's; any other type is a validator's own reason.
_PYDANTIC_TYPES = frozenset(get_args(ErrorType))
_UNWORDED = "is not a value the registry takes here"


def pydantic_reason(error: Mapping[str, Any]) -> str:
    """A Pydantic error's reason in the registry's words, the same wherever the value came
    from: a format checked by a regular expression says what it expects, not the expression;
    a value of the wrong type says the form the registry reads (Pydantic's "Input should be a
    valid date or datetime, invalid character in year" does not); a reason a validator gave
    (a `ValueError`, a `PydanticCustomError`) stands as it was given."""
    kind, value = error.get("type"), error.get("input")
    if kind in _DATE_ERRORS:
        return date_reason(value)
    if kind in ("enum", "literal_error"):
        expected = (error.get("ctx") or {}).get("expected")
        if expected and isinstance(value, str):
            return f"{value!r} is not one of the values the registry takes: {expected}"
        if expected:
            return f"must be one of the values the registry takes: {expected}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _union_tag_reason(error)
    words = _TYPE_WORDS.get(str(kind))
    if words is not None:
        return words
    limit = _LIMIT_WORDS.get(str(kind))
    if limit is not None:
        return limit(error.get("ctx") or {})
    msg = str(error.get("msg", "invalid value"))
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "assertion_error":
        return msg.removeprefix("Assertion failed, ")
    said = mismatch_reason(error)
    if said:
        return said
    if kind == "string_pattern_mismatch":
        return "is not written in the form the registry takes here"
    if kind in _PYDANTIC_TYPES:
        log.warning("no registry words for Pydantic's %s error: %s", kind, msg)
        return _UNWORDED
    return msg


def reworded(
    error: ValidationError, reason: Callable[[ErrorDetails], str | None]
) -> ValidationError:
    """`error` with the reason `reason` gives to some of its errors (None: the error stays as
    it is), for a model whose refusal says more than its types can (a field a role needs).
    The reason travels as the error's own, so that `pydantic_reason` gives it wherever the
    error is answered: a request body FastAPI read, or a model the service validated."""
    details: list[InitErrorDetails] = []
    for e in error.errors(include_url=False):
        said = reason(e)
        kind: Any = PydanticCustomError(f"explained_{e['type']}", said) if said else e["type"]
        detail = InitErrorDetails(type=kind, loc=e["loc"], input=e["input"])
        if "ctx" in e and not said:
            detail["ctx"] = e["ctx"]
        details.append(detail)
    return ValidationError.from_exception_data(error.title, details)


def field_errors(
    error: ValidationError,
    *,
    whole: str = "body",
    drop: int = 0,
    prefix: str = "",
    explain: Callable[[ErrorDetails], str | None] | None = None,
) -> list[dict[str, str]]:
    """A Pydantic refusal as the registry's `{field, reason}` list: each path dotted, its first
    `drop` parts left out (a union's tag) and put under `prefix`; `whole` names an error about
    the input as a whole (an empty path). `explain` may say more of an error than its type
    (which field of a record a client may not send); else `pydantic_reason` words it."""
    fields = []
    for e in error.errors(include_url=False):
        parts = [prefix] if prefix else []
        parts += [str(p) for p in e["loc"][drop:]]
        reason = (explain(e) if explain is not None else None) or pydantic_reason(e)
        fields.append({"field": ".".join(parts) or whole, "reason": reason})
    return fields


def _without_union_tag(loc: tuple[Any, ...], body: Any) -> tuple[Any, ...]:
    """Pydantic puts a discriminated union's tag in the path (`body.admin.name` for a body
    whose `role` is `admin`): the client sent `name`, so the field is named `name`. Only an
    error under a key the body does not hold, equal to one of its values, is such a tag."""
    if (
        len(loc) >= 3
        and loc[0] == "body"
        and isinstance(body, dict)
        and isinstance(loc[1], str)
        and loc[1] not in body
        and loc[1] in {v for v in body.values() if isinstance(v, str)}
    ):
        return (loc[0], *loc[2:])
    return loc


def invalid_parameter(parameter: str, reason: str) -> InvalidParameter:
    """The 400 for one query or path parameter refused for `reason`, in the same words whether
    FastAPI refused it (its type, its pattern) or the service did (what it holds)."""
    return InvalidParameter(
        f"The parameter `{parameter}` is not valid: {reason}.",
        errors=[{"field": parameter, "reason": reason}],
    )


def _json_position(document: Any, loc: Sequence[Any]) -> str:
    """Where a JSON body stopped making sense, as an editor counts (`, at line 3, column 14`,
    from 1), from the character offset FastAPI gives (`("body", 41)`); "" without one."""
    position = loc[1] if len(loc) == 2 and loc[0] == "body" else None
    if not isinstance(position, int) or isinstance(position, bool):
        return ""
    if isinstance(document, bytes | bytearray):
        document = bytes(document).decode("utf-8", "replace")
    if not isinstance(document, str) or not 0 <= position <= len(document):
        return f" (at character {position + 1})"
    line = document.count("\n", 0, position) + 1
    column = position - (document.rfind("\n", 0, position) + 1) + 1
    return f", at line {line}, column {column}"


def validation_problem(exc: RequestValidationError) -> Problem:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        ctx = first.get("ctx") or {}
        reason = str(ctx.get("error", "malformed JSON"))
        where = _json_position(exc.body, first.get("loc", ()))
        return BadRequest(
            f"The request body is not valid JSON{where and ': ' + reason + where}.",
            errors=[{"field": "body", "reason": reason + where}],
        )
    fields = []
    for e in errors:
        loc = _without_union_tag(tuple(e.get("loc", ())), exc.body)
        if (tag_field := _union_tag_field(e)) is not None:
            loc = (*loc, tag_field)
        fields.append({"field": _field_path(loc), "reason": pydantic_reason(e)})
    in_params = [str(e.get("loc", ("",))[0]) in {"query", "path", "header"} for e in errors]
    if len(errors) == 1 and str(errors[0].get("loc", ("",))[0]) in {"query", "path"}:
        return invalid_parameter(fields[0]["field"], fields[0]["reason"])
    if all(in_params):
        return InvalidParameter("A parameter of the request is not valid.", errors=fields)
    if any(in_params):
        return ValidationFailed(
            "A parameter of the request and its body are not valid.", errors=fields
        )
    return ValidationFailed("The request body does not satisfy the schema.", errors=fields)


_WRITTEN_CONCURRENTLY = (
    "A concurrent request has just written the same value; nothing of this request was written."
)
# The unique keys a service checks before it writes (so a violation is a race, not a bug):
# constraint → (detail, the field the client sent, reason).
CONCURRENTLY_TAKEN = {
    "uq_cabin_operator_id_operator_reference": (
        _WRITTEN_CONCURRENTLY,
        "operator_reference",
        "already used by another cabin (written concurrently)",
    ),
    "uq_operator_siren": (
        _WRITTEN_CONCURRENTLY,
        "siren",
        "already registered (written concurrently)",
    ),
    "pk_rule_set": (_WRITTEN_CONCURRENTLY, "version", "already exists (written concurrently)"),
    "uq_import_job_client_id_idempotency_key": (
        "An upload with this Idempotency-Key is being processed.",
        "Idempotency-Key",
        "in use by a concurrent upload",
    ),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(validation_problem(exc), request)

    @app.exception_handler(ClientDisconnect)
    async def _cut_off(request: Request, exc: ClientDisconnect) -> Response:
        return problem_response(cut_off(request), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, ClientDisconnect):
            # FastAPI reads a route's body model itself and words any failure to read it as
            # "There was an error parsing the body".
            return problem_response(cut_off(request), request)
        problem_class = _STATUS_PROBLEMS.get(exc.status_code, BadRequest)
        detail = {
            404: f"No resource at {request.url.path}.",
            405: f"{request.method} is not allowed on {request.url.path}.",
        }.get(exc.status_code, str(exc.detail) if exc.detail else None)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request, headers.get("Allow", ""))
        errors = None
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's words when the body cannot even be decoded (not UTF-8, nested too deep).
            detail = "The request body could not be read."
            errors = [{"field": "body", "reason": "not UTF-8 JSON, or nested too deep to read"}]
        problem = problem_class(detail, headers=headers, errors=errors)
        problem.status = exc.status_code
        return problem_response(problem, request)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeoutError)
    async def _db_stopped(request: Request, exc: Exception) -> Response:
        return _database_stopped(request, exc)

    @app.exception_handler(IntegrityError)
    async def _taken(request: Request, exc: IntegrityError) -> Response:
        """A unique key the service checked before writing, taken by a concurrent request
        between the check and the write: the same 409 the check gives, naming the field the
        client sent. Any other integrity error (a value the server drew, a constraint no
        check precedes) is the service's bug: a 500."""
        taken = CONCURRENTLY_TAKEN.get(taken_key(exc) or "")
        if taken is None:
            return _internal(request, exc)
        detail, field, reason = taken
        return problem_response(
            Conflict(detail, errors=[{"field": field, "reason": reason}]), request
        )

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> Response:
        if exc.connection_invalidated:
            return _database_stopped(request, exc)
        return _internal(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return _internal(request, exc)


def _allowed_methods(request: Request, fallback: str) -> str:
    """Every documented method on this path. Starlette's 405 names only the methods of the
    first route that matched the path, though GET and POST on one path are two routes."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods |= {m.upper() for m in operations if m.upper() in _HTTP_METHODS}
    if "GET" in methods:
        methods.add("HEAD")  # every GET route answers HEAD (middleware.HeadAsGetMiddleware)
    return ", ".join(sorted(methods)) or fallback


_HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"}


def first_line(exc: Exception) -> str:
    """The database's message alone: not the statement and its parameters (cabin data), which
    SQLAlchemy's text of the error carries."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _sqlstate(exc: Exception) -> str:
    return str(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")


def stopped_at_time_limit(exc: Exception) -> bool:
    """The database cancelled a statement (SQLSTATE 57014: its statement_timeout)."""
    return _sqlstate(exc) == "57014"


def rolled_back_by_conflict(exc: Exception) -> bool:
    """The database undid the transaction to settle a conflict with a concurrent one
    (SQLSTATE 40001 a serialization failure, 40P01 a deadlock): sent again, it may pass."""
    return _sqlstate(exc) in ("40001", "40P01")


def taken_key(exc: IntegrityError) -> str | None:
    """The unique key a unique violation (SQLSTATE 23505) names; None for any other integrity
    error."""
    if not isinstance(exc.orig, UniqueViolation):
        return None
    constraint: str | None = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    return constraint


def waited_for_lock(exc: Exception) -> bool:
    """A statement waited for a lock longer than the lock timeout (SQLSTATE 55P03), which the
    service sets just under the statement timeout (`db.session_options`)."""
    return _sqlstate(exc) == "55P03"


# A request that waited for a lock as long as a statement may behind a long write: the service
# is up and nothing was written; it is worth retrying.
BUSY = (
    "This request waited as long as a request may for a long write to end (a rule set being put"
    " in force, every cabin being re-evaluated, or a large import); nothing of it was"
    " written. Retry in a minute."
)


def _database_stopped(request: Request, exc: Exception) -> Response:
    """The service is up but the database stopped this request, nothing of it written: a 503
    saying what stopped it and when to retry, and one log line without the statement.
    - past the statement time limit: the request asked for more work than one request may
      take (narrow it);
    - undone to settle a conflict with a concurrent transaction (a deadlock, a serialization
      failure): sent again, it runs after the other;
    - a wait for a lock cut by the lock timeout: a long write under way (`BUSY`);
    - else the database is unreachable or the connection was lost."""
    if stopped_at_time_limit(exc):
        timeout_ms = request.app.state.settings.db_statement_timeout_ms
        cause, retry_after = "statement cancelled", "30"
        detail = (
            f"The request took longer than the {timeout_ms / 1000:g} s one request may take;"
            " narrow it (a filter, a region, a smaller page) or retry later."
        )
    elif rolled_back_by_conflict(exc):
        cause, retry_after = "transaction rolled back", "1"
        detail = (
            "This request met a concurrent write to the same data and was undone: nothing was"
            " written. Send it again."
        )
    elif waited_for_lock(exc):
        cause, retry_after, detail = "lock wait cut", "60", BUSY
    else:
        cause, retry_after = "database unavailable", "5"
        detail = "The database is unavailable; retry shortly."
    log.warning("%s on %s %s: %s", cause, request.method, request.url.path, first_line(exc))
    return problem_response(
        ServiceUnavailable(detail, headers={"Retry-After": retry_after}), request
    )


def _internal(request: Request, exc: Exception) -> Response:
    error_id = uuid.uuid4().hex
    log.error(
        "unexpected error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc
    )
    return problem_response(
        InternalError(
            f"An unexpected error occurred. Quote id {error_id} when reporting it.",
            error_id=error_id,
        ),
        request,
    )
