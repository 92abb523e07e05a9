"""The route class every router uses: a JSON body must come as JSON (415 otherwise), and on the
API (`/v1`, `/public`) a query parameter the route does not declare is a 400 naming it — a typo
such as `dryrun` for `dry_run` must not be ignored while the request goes on and writes — and so
is a parameter given twice (`region=84&region=11`) unless the route declares it a list: reading
one of the values would filter a list on the last and an export on whichever.

It also documents, on every operation of openapi.yaml, the problems the service's plumbing
answers whatever the handler does: 400 for an unknown or repeated query parameter, 413 and 415
for a body, 503 when the database is down or a statement outlasts the timeout. It refuses, with
a 406 that it documents too, a request whose `Accept` takes none of the types the route answers
(`service.negotiation`)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Coroutine, Iterable, Sequence
from types import NoneType, UnionType
from typing import Any, NamedTuple, TypeVar, Union, get_args, get_origin

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from pydantic import AliasChoices, BaseModel, Json
from pydantic.fields import FieldInfo

from service import negotiation
from service.db import get_session
from service.errors import InvalidParameter, UnsupportedMediaType, problem_responses
from service.reads import get_read_session, get_regulator_read_session

JSON_MEDIA_TYPES = ("application/json", "application/merge-patch+json")

# Every route of the API's roots (`negotiation.API_ROOTS`) takes its declared query parameters
# and no other (on /ogc, OGC API Features /req/core/query-param-unknown), and a parameter given
# twice, or a NUL character in a value (PostgreSQL text holds none), is a 400 naming it. A route
# reading names of its own, such as /ogc's items and their queryables, is marked with
# `own_query_names`. A request with an unknown name and a repeated one, or a NUL character,
# is told of the unknown name first, on every root.

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
F = TypeVar("F", bound=Callable[..., Any])


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in JSON_MEDIA_TYPES or media_type.endswith("+json")


def any_query(endpoint: F) -> F:
    """Marks an endpoint whose answer does not depend on the query, such as the 405 of a path's
    other methods: it keeps that answer whatever names the query holds."""
    endpoint.takes_any_query = True  # type: ignore[attr-defined]
    return endpoint


def own_query_names(endpoint: F) -> F:
    """Marks an endpoint that reads query names besides its declared parameters (/ogc's items
    take each queryable as `name=value`) and answers an unknown one itself; a name given twice
    or a NUL character is still refused before it runs."""
    endpoint.reads_own_query_names = True  # type: ignore[attr-defined]
    return endpoint


def _field_names(info: FieldInfo, name: str, alias: str | None, config: Any) -> set[str]:
    """The names FastAPI reads a query field from: its alias (or its name), or each choice of
    its validation alias, and its name too when the model validates by name."""
    if config.get("validate_by_alias") is False:
        return {name}
    names = {alias or name}
    chosen = info.validation_alias
    if isinstance(chosen, str):
        names = {chosen}
    elif isinstance(chosen, AliasChoices):
        names = {c for c in chosen.choices if isinstance(c, str)} or names
    if config.get("validate_by_name") or config.get("populate_by_name"):
        names.add(name)
    return names


def _query_model(field: Any) -> type[BaseModel] | None:
    """The Pydantic model of an `Annotated[Model | None, Query()]` parameter, read from the
    query's names as FastAPI does (a `Json[...]` field is one parameter, not a model)."""
    annotation = field.field_info.annotation
    if get_origin(annotation) in (Union, UnionType):
        args = get_args(annotation)
        if len(args) == 2 and NoneType in args:
            annotation = next(a for a in args if a is not NoneType)
    if any(type(item) is Json for item in field.field_info.metadata):
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


class QueryNames(NamedTuple):
    known: frozenset[str]
    repeatable: frozenset[str]  # the names of list parameters, which may be given many times


# A route whose query model takes any name: none is refused as unknown, none may repeat.
ANY_NAMES = QueryNames(frozenset(), frozenset())


def is_list(annotation: Any) -> bool:
    """A list, set, tuple or sequence annotation, optional or not: FastAPI reads such a query
    parameter from every value given."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return any(is_list(arg) for arg in get_args(annotation) if arg is not NoneType)
    return isinstance(origin, type) and issubclass(origin, (list, set, frozenset, tuple, Sequence))


def query_parameter_names(dependant: Dependant) -> QueryNames | None:
    """Every query parameter name the route reads, through its dependencies and their
    sub-dependencies and through Pydantic query models; None if a query model takes any name
    (`extra="allow"`)."""
    known: set[str] = set()
    repeatable: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        pending.extend(current.dependencies)
        for field in current.query_params:
            model = _query_model(field)
            if model is None:
                own_config = getattr(field, "config", None) or {}
                names = _field_names(field.field_info, field.name, field.alias, own_config)
                fields = [(field.field_info.annotation, names)]
            elif model.model_config.get("extra") == "allow":
                return None
            else:
                fields = [
                    (info.annotation, _field_names(info, name, info.alias, model.model_config))
                    for name, info in model.model_fields.items()
                ]
            for annotation, names in fields:
                known |= names
                if is_list(annotation):
                    repeatable |= names
    return QueryNames(frozenset(known), frozenset(repeatable))


def unknown_parameters_problem(unknown: Iterable[str], known: frozenset[str]) -> InvalidParameter:
    takes = (
        f"this route takes: {', '.join(sorted(known))}"
        if known
        else "this route takes no query parameters"
    )
    errors = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        errors.append({"field": name, "reason": f"unknown parameter{hint}; {takes}"})
    listed = ", ".join(e["field"] for e in errors)
    plural = "s" if len(errors) > 1 else ""
    return InvalidParameter(
        f"Unknown query parameter{plural}: {listed}. Nothing was done; {takes}.", errors=errors
    )


def query_values(request: Request) -> dict[str, list[str]]:
    """Each query parameter's values, in the order the request gave the names."""
    values: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name, []).append(value)
    return values


def refuse_repeated(values: dict[str, list[str]], repeatable: frozenset[str] = frozenset()) -> None:
    """A 400 naming each parameter given more than once, but for the declared lists."""
    repeated = {
        name: given for name, given in values.items() if len(given) > 1 and name not in repeatable
    }
    if not repeated:
        return
    errors = [
        {
            "field": name,
            "reason": f"given {len(given)} times ({', '.join(map(repr, given))}): give it"
            " once (one value per parameter)",
        }
        for name, given in repeated.items()
    ]
    raise InvalidParameter(
        f"The parameter{'s' if len(errors) > 1 else ''}"
        f" {', '.join(f'`{name}`' for name in repeated)} must be given once.",
        errors=errors,
    )


def refuse_nul(values: dict[str, list[str]]) -> None:
    """A 400 naming each parameter whose value holds a NUL character."""
    errors = [
        {"field": name, "reason": "must not contain a NUL character"}
        for name, given in values.items()
        if any("\x00" in value for value in given)
    ]
    if errors:
        listed = ", ".join(f"`{e['field']}`" for e in errors)
        raise InvalidParameter(f"A NUL character is no text: {listed}.", errors=errors)


def refuse_unknown(values: dict[str, list[str]], known: frozenset[str]) -> None:
    """A 400 naming each parameter the route does not declare, in the order given."""
    unknown = [name for name in values if name not in known]
    if unknown:
        raise unknown_parameters_problem(unknown, known)


def _checked_query(handler: Handler, names: QueryNames, strict: bool) -> Handler:
    async def checked(request: Request) -> Response:
        values = query_values(request)
        if strict:
            refuse_unknown(values, names.known)
        refuse_repeated(values, names.repeatable)
        refuse_nul(values)
        return await handler(request)

    return checked


def _json_body_only(handler: Handler) -> Handler:
    async def checked(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        has_body = request.headers.get("content-length", "0") != "0" or (
            "transfer-encoding" in request.headers
        )
        if has_body and not is_json_media_type(content_type):
            raise UnsupportedMediaType(
                f"This endpoint takes application/json, not {content_type or 'no type'}.",
                errors=[{"field": "Content-Type", "reason": "must be application/json"}],
            )
        return await handler(request)

    return checked


def _negotiated(handler: Handler, offered: tuple[str, ...], format_parameter: bool) -> Handler:
    async def checked(request: Request) -> Response:
        query = request.query_params if format_parameter else ()
        negotiation.check(request.headers.get("accept"), offered, query)
        return await handler(request)

    return checked


def negotiated(route: APIRoute) -> bool:
    """The contract's routes answer by `Accept`; the web app's pages and assets do not."""
    return route.include_in_schema and negotiation.negotiates(route)


def uses_database(dependant: Dependant) -> bool:
    """Whether the route or one of its dependencies (a key check, a session) opens a session."""
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call in (get_session, get_read_session, get_regulator_read_session):
            return True
        pending.extend(current.dependencies)
    return False


def plumbing_problems(route: ApiRoute) -> list[int]:
    """The problem statuses the route may answer before or around its handler."""
    statuses = []
    if negotiation.under(route.path):
        statuses.append(400)
    takes_body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})
    if takes_body:
        statuses.append(413)
    if route.body_field is not None:
        statuses.append(415)
    if negotiated(route):
        statuses.append(406)
    if uses_database(route.dependant):
        statuses.append(503)
    return statuses


class ApiRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        added = problem_responses(*(s for s in plumbing_problems(self) if s not in self.responses))
        for status, response in added.items():
            self.response_fields[status] = create_model_field(
                name=f"Response_{status}_{self.unique_id}",
                type_=response["model"],
                mode="serialization",
            )
        self.responses = dict(
            sorted({**self.responses, **added}.items(), key=lambda item: str(item[0]))
        )

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is not None:
            handler = _json_body_only(handler)
        if negotiation.under(self.path) and not getattr(self.endpoint, "takes_any_query", False):
            # computed once, as the route is built
            names = query_parameter_names(self.dependant)
            own_names = getattr(self.endpoint, "reads_own_query_names", False)
            strict = names is not None and not own_names
            handler = _checked_query(handler, names or ANY_NAMES, strict)
        if negotiated(self):  # first: a 406 before any other check
            format_parameter = any(
                p.alias == negotiation.FORMAT_PARAMETER for p in self.dependant.query_params
            )
            handler = _negotiated(handler, negotiation.offered_types(self), format_parameter)
        return handler
