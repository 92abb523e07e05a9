"""Every domain's tables, imported in one place so Alembic sees the whole schema."""

from service.db import Base

__all__ = ["Base"]
