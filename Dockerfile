# The Cabin Registry API: migrations, then the service, against DATABASE_URL (PostGIS).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PORT=8000
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY alembic ./alembic
# Installed in place (-e): `registry db upgrade` finds alembic.ini and alembic/ beside the
# package, as in a checkout; an installed copy in site-packages would look for them there.
RUN pip install -e . && useradd --system --home /app registry
USER registry

EXPOSE 8000
# DATABASE_URL must point at PostgreSQL with the PostGIS extension available.
CMD ["sh", "-c", "registry db upgrade && exec registry serve --host 0.0.0.0 --port ${PORT}"]
