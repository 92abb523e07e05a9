"""The route class every router uses: a JSON body must come as JSON (415 otherwise)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from service.errors import UnsupportedMediaType

JSON_MEDIA_TYPES = ("application/json", "application/merge-patch+json")


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in JSON_MEDIA_TYPES or media_type.endswith("+json")


class ApiRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

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
