"""Generate an import CSV of N valid cabins over real communes: each row on a point inside a
commune of the current layer (ST_PointOnSurface, jittered by a few metres), with a valid
SIRET, a venue, siting, declarations, fees and accessibility columns. Deterministic (seeded)."""

from __future__ import annotations

import argparse
import csv
import io
import random

from sqlalchemy import create_engine, text
from stdnum import luhn

COLUMNS = [
    "operator_reference",
    "location.lon",
    "location.lat",
    "location.declared_insee",
    "location.address.number",
    "location.address.street",
    "location.address.postcode",
    "venue.kind",
    "venue.name",
    "venue.siret",
    "venue.building_regime",
    "venue.cabin_count",
    "opening_hours",
    "siting.placement",
    "siting.enclosure",
    "siting.sound_insulated",
    "siting.responsible_person.name_or_role",
    "siting.responsible_person.bound_by_secrecy",
    "siting.staff_hours",
    "siting.assistance_modes",
    "siting.devices",
    "declarations.ars_declaration_date",
    "declarations.cpam_informed_date",
    "fees.base_fee_eur",
    "fees.sector",
    "fees.depassements_possible",
    "accessibility.entree_plain_pied",
    "accessibility.entree_largeur_mini",
    "accessibility.cabin_door_clear_width_cm",
    "accessibility.turning_diameter_cm",
    "accessibility.hearing_loop",
    "accessibility.stationnement_pmr",
]
KINDS = ["pharmacie_officine", "msp", "centre_sante", "mairie_france_services", "cabinet_medical"]
HOURS = ["Mo-Fr 09:00-19:00", "Mo-Fr 08:30-12:30,14:00-19:00; Sa 09:00-12:00", "Mo-Sa 09:00-20:00"]
STREETS = ["rue de la République", "place de la Mairie", "avenue Jean Jaurès", "Grande Rue"]


def siret(rng: random.Random) -> str:
    """A SIREN (8 digits + Luhn key), an establishment number, and the SIRET's Luhn key."""
    siren = "".join(str(rng.randint(0, 9)) for _ in range(8))
    siren += luhn.calc_check_digit(siren)
    body = siren + "".join(str(rng.randint(0, 9)) for _ in range(4))
    return body + luhn.calc_check_digit(body)


def places(url: str) -> list[tuple[str, float, float, str | None]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT insee, ST_X(p), ST_Y(p), postcodes[1] FROM ("
                " SELECT insee, ST_PointOnSurface(geom) AS p, postcodes FROM commune"
                " WHERE geom IS NOT NULL AND layer_id IN"
                " (SELECT id FROM layer WHERE kind = 'commune' AND is_current)) c"
                " ORDER BY insee"
            )
        ).all()
    engine.dispose()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def generate(url: str, count: int, seed: int = 2026, prefix: str = "BENCH") -> bytes:
    rng = random.Random(seed)
    communes = places(url)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i in range(count):
        insee, lon, lat, postcode = communes[rng.randrange(len(communes))]
        hours = rng.choice(HOURS)
        writer.writerow(
            [
                f"{prefix}-{i:06d}",
                round(lon, 7),
                round(lat, 7),
                insee,
                str(rng.randint(1, 200)),
                rng.choice(STREETS),
                postcode or "",
                rng.choice(KINDS),
                f"Site {i}",
                siret(rng),
                rng.choice(["new", "existing"]),
                1,
                hours,
                "indoor_room",
                "closed_cabin",
                rng.choice(["true", "false", ""]),
                "pharmacien",
                "true",
                hours,
                rng.choice(["pharmacist", "nurse|pharmacist", "trained_staff"]),
                "oximeter|thermometer",
                "2026-01-15",
                "2026-02-01",
                30,
                "sector_1",
                "false",
                rng.choice(["true", "false", ""]),
                rng.choice([80, 90, 100, ""]),
                rng.choice([77, 85, 90, ""]),
                rng.choice([130, 150, ""]),
                rng.choice(["true", "false", ""]),
                rng.choice(["true", ""]),
            ]
        )
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "wb") as f:
        f.write(generate(args.database_url, args.rows))


if __name__ == "__main__":
    main()
