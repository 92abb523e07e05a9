"""The `cabin` table. Typed columns for what queries filter or rules read in SQL (status,
operator, point, commune codes, venue, declaration dates, freshness); JSONB for the richer
blocks (siting, care links, provider, fees, accessibility), whose shape is the Pydantic models
of `service.cabins.schemas`."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
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

from service.cabins.vocabulary import BUILDING_REGIMES, STATUSES, VENUE_KINDS, sql_in
from service.db import Base


class Cabin(Base):
    __tablename__ = "cabin"
    __table_args__ = (
        UniqueConstraint("operator_id", "operator_reference"),
        CheckConstraint(sql_in("status", STATUSES), name="status_known"),
        CheckConstraint(sql_in("venue_kind", VENUE_KINDS), name="venue_kind_known"),
        CheckConstraint(
            f"venue_building_regime IS NULL OR {sql_in('venue_building_regime', BUILDING_REGIMES)}",
            name="building_regime_known",
        ),
        Index(None, "commune_insee"),
        Index(None, "departement_code"),
        Index(None, "region_code"),
        Index(None, "venue_kind"),
        # The active cabins' points in an SP-GiST (k-d tree) index: SIT-10's neighbour count
        # and the public map windows probe it, ~1.5x faster than the GiST on every cabin for
        # points. Nearest-first ordering (KNN) keeps using the GiST.
        Index(
            "ix_cabin_active_geom_spgist",
            "geom",
            postgresql_using="spgist",
            postgresql_where=text("status = 'active'"),
        ),
    )

    # identity
    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True,
        server_default=text("uuid_v7()"),
        comment="time-ordered (UUIDv7): new cabins go to the right edge of every index on it",
    )
    reference: Mapped[str] = mapped_column(
        String(16), unique=True, comment="public reference: CAB- + 8 Crockford base32 characters"
    )
    # Queries by owner use the unique (operator_id, operator_reference) index below.
    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operator.id"))
    operator_reference: Mapped[str] = mapped_column(
        Text, comment="the operator's own reference, unique per operator"
    )
    status: Mapped[str] = mapped_column(String(16), index=True, server_default="draft")
    declared_date: Mapped[date | None] = mapped_column(Date)
    service_start_date: Mapped[date | None] = mapped_column(Date)
    suspended_date: Mapped[date | None] = mapped_column(Date)
    decommissioned_date: Mapped[date | None] = mapped_column(Date)

    # location
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    address_number: Mapped[str | None] = mapped_column(Text)
    address_street: Mapped[str | None] = mapped_column(Text)
    address_postcode: Mapped[str | None] = mapped_column(String(5))
    address_commune_name: Mapped[str | None] = mapped_column(Text)
    declared_insee: Mapped[str] = mapped_column(
        String(5), comment="commune INSEE code declared by the operator"
    )
    # derived from the point through the current commune layer, on every write
    commune_insee: Mapped[str | None] = mapped_column(String(5))
    departement_code: Mapped[str | None] = mapped_column(String(3))
    region_code: Mapped[str | None] = mapped_column(String(3))
    epci_siren: Mapped[str | None] = mapped_column(String(9))
    commune_vintage: Mapped[str | None] = mapped_column(
        String(32), comment="vintage of the commune layer the codes were derived from"
    )

    # venue
    venue_kind: Mapped[str] = mapped_column(String(32))
    venue_description: Mapped[str | None] = mapped_column(Text, comment="for kind 'autre'")
    venue_name: Mapped[str | None] = mapped_column(Text)
    venue_siret: Mapped[str | None] = mapped_column(String(14))
    venue_finess: Mapped[str | None] = mapped_column(String(9))
    venue_naf: Mapped[str | None] = mapped_column(String(6), comment="NAF rev. 2, e.g. 47.73Z")
    venue_building_regime: Mapped[str | None] = mapped_column(
        String(8), comment="new: permit filed on or after 2017-07-01; else existing"
    )
    venue_cabin_count: Mapped[int | None] = mapped_column(
        Integer, comment="number of cabins at the venue"
    )

    # declarations
    ars_declaration_date: Mapped[date | None] = mapped_column(Date)
    ars_declaration_reference: Mapped[str | None] = mapped_column(Text)
    ars_received_date: Mapped[date | None] = mapped_column(
        Date, comment="recorded by the ARS itself"
    )
    cpam_informed_date: Mapped[date | None] = mapped_column(Date)
    cpts_informed_date: Mapped[date | None] = mapped_column(Date)
    concertation_date: Mapped[date | None] = mapped_column(Date)
    concertation_parties: Mapped[list[str] | None] = mapped_column(ARRAY(Text))

    # the richer blocks (shapes in service.cabins.schemas)
    opening_hours: Mapped[str | None] = mapped_column(Text, comment="OSM opening_hours syntax")
    siting = mapped_column(JSONB, nullable=False, server_default="{}")
    care_links = mapped_column(JSONB, nullable=False, server_default="[]")
    provider = mapped_column(JSONB, nullable=True)
    fees = mapped_column(JSONB, nullable=True)
    accessibility = mapped_column(JSONB, nullable=False, server_default="{}")

    # freshness of each block (SIT-20): set when the block is written or confirmed
    siting_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    declarations_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    care_links_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fees_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accessibility_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
