"""Every domain's tables, imported in one place so Alembic sees the whole schema."""

from service.db import Base
from service.territories import models as territories  # noqa: F401

__all__ = ["Base"]
