"""Reference-layer tables. Every row belongs to one loaded `layer` (kind, vintage, source,
synthetic or not); exactly one layer per kind and scope is current, and readers join on it, so
a new vintage loads beside the current one and becomes current in one transaction."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base

LAYER_KINDS = (
    "commune",
    "departement",
    "region",
    "epci",
    "mairie",
    "medical_zone",
    "health_site",
    "cpts",
    "zone_rouge",
)


class Layer(Base):
    """One loaded vintage of one layer, with its provenance."""

    __tablename__ = "layer"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in LAYER_KINDS) + ")", name="kind_known"
        ),
        # One current layer per kind and scope (scope: a région code for a regional zoning).
        Index(
            "uq_layer_current",
            "kind",
            text("coalesce(scope, '')"),
            unique=True,
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str | None] = mapped_column(
        String(16), comment="région code, for regional layers"
    )
    vintage: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text, comment="who published it, or the generator + seed")
    package: Mapped[str | None] = mapped_column(Text)
    package_version: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str | None] = mapped_column(String(64))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    reference: Mapped[str | None] = mapped_column(Text, comment="e.g. the ARS arrêté")
    reference_date: Mapped[date | None] = mapped_column(Date)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str | None] = mapped_column(
        Text, comment="known defects and how they are handled"
    )
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    load_seconds: Mapped[float | None] = mapped_column(Float)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)


def _layer_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("layer.id", ondelete="CASCADE"), index=True)


class Region(Base):
    __tablename__ = "region"
    __table_args__ = (UniqueConstraint("layer_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = _layer_fk()
    vintage: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(Text)
    population: Mapped[int | None] = mapped_column(Integer)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True)


class Departement(Base):
    __tablename__ = "departement"
    __table_args__ = (UniqueConstraint("layer_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = _layer_fk()
    vintage: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(String(3))
    population: Mapped[int | None] = mapped_column(Integer)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True)


class Epci(Base):
    __tablename__ = "epci"
    __table_args__ = (UniqueConstraint("layer_id", "siren"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = _layer_fk()
    vintage: Mapped[str] = mapped_column(String(32))
    siren: Mapped[str] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(8), comment="CC, CA, CU or ME")
    population: Mapped[int | None] = mapped_column(Integer)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True)


class Commune(Base):
    __tablename__ = "commune"
    __table_args__ = (UniqueConstraint("layer_id", "insee"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = _layer_fk()
    vintage: Mapped[str] = mapped_column(String(32))
    insee: Mapped[str] = mapped_column(String(5), index=True)
    name: Mapped[str] = mapped_column(Text, comment="with its article: Le Bocasse")
    population: Mapped[int | None] = mapped_column(Integer)
    siren: Mapped[str | None] = mapped_column(String(9))
    postcodes: Mapped[list[str] | None] = mapped_column(ARRAY(String(5)))
    departement: Mapped[str] = mapped_column(String(3))
    region: Mapped[str] = mapped_column(String(3))
    epci: Mapped[str | None] = mapped_column(String(9), comment="SIREN of the EPCI")
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True)
    point = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True),
        nullable=True,
        comment="where the population is placed: the cleaned town hall, else a point on surface",
    )


class Mairie(Base):
    """Town-hall points, kept only when within 1 km of their commune (reference-data.md §2)."""

    __tablename__ = "mairie"
    __table_args__ = (UniqueConstraint("layer_id", "insee"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = _layer_fk()
    vintage: Mapped[str] = mapped_column(String(32))
    insee: Mapped[str] = mapped_column(String(5))
    address: Mapped[str | None] = mapped_column(Text)
    opening_hours = mapped_column(JSONB, nullable=True)
    phone: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True))


class MedicalZone(Base):
    """Medical zoning of one commune: ZIP, ZAC or none (absent row = unknown)."""

    __tablename__ = "medical_zone"
    __table_args__ = (
        UniqueConstraint("layer_id", "insee"),
        CheckConstraint("zone IN ('ZIP', 'ZAC', 'none')", name="zone_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = _layer_fk()
    vintage: Mapped[str] = mapped_column(String(32))
    insee: Mapped[str] = mapped_column(String(5), index=True)
    zone: Mapped[str] = mapped_column(String(4))
    apl: Mapped[float | None] = mapped_column(Float, comment="GP accessibility, when known")
    arrete_ref: Mapped[str | None] = mapped_column(Text)
    arrete_date: Mapped[date | None] = mapped_column(Date)


class HealthSite(Base):
    """A FINESS establishment (pharmacy, MSP, centre de santé, hospital, …)."""

    __tablename__ = "health_site"
    __table_args__ = (UniqueConstraint("layer_id", "finess"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = _layer_fk()
    vintage: Mapped[str] = mapped_column(String(32))
    finess: Mapped[str] = mapped_column(
        String(16), index=True, comment="nofinesset (SYN-… when synthetic)"
    )
    finess_ej: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[int | None] = mapped_column(Integer, comment="categetab")
    category_label: Mapped[str | None] = mapped_column(Text)
    category_group: Mapped[int | None] = mapped_column(Integer, comment="categagretab")
    siret: Mapped[str | None] = mapped_column(String(14))
    insee: Mapped[str | None] = mapped_column(String(5))
    commune_only_geocode: Mapped[bool] = mapped_column(
        Boolean, default=False, comment="placed on the commune only: not trusted for distances"
    )
    source_crs: Mapped[int | None] = mapped_column(Integer, comment="EPSG code of the source row")
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=True)


class Cpts(Base):
    """A CPTS territory: its member communes and their dissolved polygon."""

    __tablename__ = "cpts"
    __table_args__ = (
        UniqueConstraint("layer_id", "cpts_id"),
        # the CPTS of one commune by index (`member_insee @> ARRAY[insee]`), for a write's SIT-02
        Index("ix_cpts_member_insee", "member_insee", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = _layer_fk()
    vintage: Mapped[str] = mapped_column(String(32))
    cpts_id: Mapped[str] = mapped_column(String(32), comment="FINESS, SIRET or ARS identifier")
    name: Mapped[str] = mapped_column(Text)
    member_insee: Mapped[list[str]] = mapped_column(ARRAY(String(5)))
    population: Mapped[int | None] = mapped_column(Integer)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True)


class ZoneRouge(Base):
    """A priority EPCI ("zone rouge", June 2025 list)."""

    __tablename__ = "zone_rouge"
    __table_args__ = (UniqueConstraint("layer_id", "epci_siren"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = _layer_fk()
    vintage: Mapped[str] = mapped_column(String(32))
    epci_siren: Mapped[str] = mapped_column(String(9))
