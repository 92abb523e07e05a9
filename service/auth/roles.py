"""The roles of an API client, written once: the `Literal` the admin API's schemas check and
publish, and the tuple `registry clients create --role` offers. The api_client table's CHECK
constraint (`role_known`) spells the same list in SQL; a test holds them together."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["operator", "regulator", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
