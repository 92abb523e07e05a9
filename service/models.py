"""Every domain's tables, imported in one place so Alembic sees the whole schema."""

from service.audit import models as audit  # noqa: F401
from service.auth import models as auth  # noqa: F401
from service.cabins import models as cabins  # noqa: F401
from service.cabins.imports import models as cabin_imports  # noqa: F401
from service.compliance import models as compliance  # noqa: F401
from service.db import Base
from service.rules import models as rules  # noqa: F401
from service.territories import models as territories  # noqa: F401

__all__ = ["Base"]
