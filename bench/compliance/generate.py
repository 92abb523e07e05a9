"""Build the compliance benchmark database: migrate, load the real reference layers and the
synthetic health layers, publish the rule set, then insert N cabins set-based (one INSERT …
SELECT over the current communes, weighted by population, each point jittered around the
commune's population point) and have the rule engine evaluate every cabin in one pass. When
the rule engine cannot run, verdicts and the derived compliance are generated set-based
instead (said in the output).

    .venv/bin/python bench/compliance/generate.py --count 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

OPERATORS = 20

_OPERATORS = """
INSERT INTO operator (id, name, siren, is_demo)
SELECT gen_random_uuid(), 'Bench operator ' || i,
       -- 8 digits + Luhn key over them: a valid SIREN
       d || (
         (10 - (SELECT sum(CASE WHEN k % 2 = 1 THEN (x * 2) / 10 + (x * 2) % 10 ELSE x END)
                FROM (SELECT substr(d, 9 - k, 1)::int AS x, k
                      FROM generate_series(1, 8) k) s) % 10) % 10
       )::text,
       false
FROM (SELECT i, lpad((70000000 + i)::text, 8, '0') AS d FROM generate_series(1, :n) i) o
ON CONFLICT DO NOTHING
"""

_SITING = (
    '{"placement": "indoor_room", "directly_reachable_from_public_space": false,'
    ' "enclosure": "closed_room", "sound_insulated": true,'
    ' "responsible_person": {"name_or_role": "pharmacien titulaire", "bound_by_secrecy": true},'
    ' "staff_hours": "Mo-Fr 09:00-19:00", "assistance_modes": ["pharmacist"],'
    ' "devices": ["oximeter", "thermometer"]}'
)
_ACCESSIBLE = (
    '{"entree_plain_pied": true, "entree_largeur_mini": 90,'
    ' "cabin_door_clear_width_cm": 85, "turning_diameter_cm": 150}'
)

_CABINS = f"""
WITH ops AS (
  SELECT array_agg(id ORDER BY name) AS ids FROM operator WHERE name LIKE 'Bench operator %'
),
weighted AS (
  SELECT c.insee, c.departement, c.region, c.epci, c.vintage, c.point, g
  FROM commune c CROSS JOIN LATERAL generate_series(1, 1 + coalesce(c.population, 0) / 700) g
  WHERE c.layer_id IN (SELECT id FROM layer WHERE kind = 'commune' AND is_current)
    AND c.point IS NOT NULL
),
picked AS (
  SELECT w.*, row_number() OVER (ORDER BY md5(w.insee || ':' || w.g)) AS n FROM weighted w
)
INSERT INTO cabin (
  id, reference, operator_id, operator_reference, status, geom, declared_insee, commune_insee,
  departement_code, region_code, epci_siren, commune_vintage, venue_kind, venue_name,
  opening_hours, siting, accessibility, ars_declaration_date, ars_declaration_reference,
  cpam_informed_date, service_start_date, declared_date
)
SELECT gen_random_uuid(),
       'CAB-' || lpad(upper(to_hex(n)), 8, '0'),
       ops.ids[1 + (n % {OPERATORS})],
       'BENCH-' || n,
       CASE n % 20 WHEN 0 THEN 'draft' WHEN 1 THEN 'declared' WHEN 2 THEN 'suspended'
                   ELSE 'active' END,
       ST_SetSRID(ST_MakePoint(ST_X(point) + ((n * 7919) % 600 - 300) / 100000.0,
                               ST_Y(point) + ((n * 104729) % 600 - 300) / 100000.0), 4326),
       insee, insee, departement, region, epci, vintage,
       (ARRAY['pharmacie_officine', 'msp', 'centre_sante', 'mairie_france_services',
              'grande_surface'])[1 + (n % 5)],
       'Site ' || n,
       'Mo-Fr 09:00-19:00',
       '{_SITING}'::jsonb,
       CASE WHEN n % 5 < 3 THEN '{_ACCESSIBLE}'::jsonb ELSE '{{}}'::jsonb END,
       CASE WHEN n % 7 <> 0 THEN date '2026-01-15' END,
       CASE WHEN n % 7 <> 0 THEN 'ARS-' || n END,
       CASE WHEN n % 3 <> 0 THEN date '2026-01-20' END,
       CASE WHEN n % 20 > 1 THEN date '2026-02-01' END,
       CASE WHEN n % 20 > 0 THEN date '2026-01-16' END
FROM picked, ops
WHERE n <= :count
"""

# Fallback when the rule engine cannot run: verdicts for every rule of the rule set in force
# (about 12 % failing, 5 % unknown), then the derived compliance, both set-based.
_VERDICTS = """
INSERT INTO verdict (cabin_id, rule_code, outcome, severity, evidence, failing_since,
                     evaluated_at, rule_set_version)
SELECT k.id, r.code, o.outcome, r.severity,
       jsonb_build_object('reason', 'generated for the benchmark', 'outcome', o.outcome),
       CASE WHEN o.outcome = 'fail' THEN now() - (abs(hashtext(k.id::text || r.code)) % 300)
                                                * interval '1 day' END,
       now(), r.rule_set_version
FROM cabin k
CROSS JOIN rule r
CROSS JOIN LATERAL (SELECT CASE WHEN abs(hashtext(k.id::text || r.code)) % 100 < 12 THEN 'fail'
                                WHEN abs(hashtext(k.id::text || r.code)) % 100 < 17 THEN 'unknown'
                                ELSE 'pass' END AS outcome) o
WHERE r.rule_set_version = (SELECT version FROM rule_set WHERE status = 'published')
ON CONFLICT DO NOTHING
"""

_COMPLIANCE = """
INSERT INTO cabin_compliance (cabin_id, compliance_status, accessibility_label, failing_errors,
                              unknown_errors, failing_warnings, updated_at)
SELECT k.id,
       CASE WHEN bool_or(v.outcome = 'fail' AND v.severity = 'error') THEN 'non_compliant'
            WHEN bool_or(v.outcome = 'unknown' AND v.severity = 'error') THEN 'incomplete'
            ELSE 'compliant' END,
       CASE WHEN k.accessibility ? 'entree_plain_pied' THEN 'accessible' ELSE 'unknown' END,
       coalesce(array_agg(v.rule_code ORDER BY v.rule_code)
                FILTER (WHERE v.outcome = 'fail' AND v.severity = 'error'), '{}'),
       coalesce(array_agg(v.rule_code ORDER BY v.rule_code)
                FILTER (WHERE v.outcome = 'unknown' AND v.severity = 'error'), '{}'),
       coalesce(array_agg(v.rule_code ORDER BY v.rule_code)
                FILTER (WHERE v.outcome = 'fail' AND v.severity = 'warning'), '{}'),
       now()
FROM cabin k JOIN verdict v ON v.cabin_id = k.id
GROUP BY k.id
ON CONFLICT DO NOTHING
"""


def ensure_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        ).scalar():
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--no-engine", action="store_true", help="generate verdicts instead")
    parser.add_argument("--skip-setup", action="store_true", help="layers already loaded")
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or DATABASE_URL is required")
    os.environ["DATABASE_URL"] = args.url
    ensure_database(args.url)

    from alembic import command
    from service.cli import alembic_config, setup_steps

    t0 = time.perf_counter()
    command.upgrade(alembic_config(), "head")
    for title, step in [] if args.skip_setup else setup_steps(include_demo=True):
        print(f"==> {title}", file=sys.stderr)
        step()
    print(f"setup: {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    engine = create_engine(args.url)
    with engine.begin() as conn:
        existing = conn.execute(text("SELECT count(*) FROM cabin")).scalar_one()
        pending = conn.execute(
            text(
                "SELECT count(*) FROM cabin k WHERE NOT EXISTS"
                " (SELECT 1 FROM cabin_compliance cc WHERE cc.cabin_id = k.id)"
            )
        ).scalar_one()
        if existing >= args.count and not pending:
            print(f"{existing} cabins already there, evaluated", file=sys.stderr)
            return 0
        if existing < args.count:
            t = time.perf_counter()
            conn.execute(text(_OPERATORS), {"n": OPERATORS})
            conn.execute(text(_CABINS), {"count": args.count - existing})
            conn.execute(text("ANALYZE cabin"))
            print(f"cabins inserted: {time.perf_counter() - t:.1f} s", file=sys.stderr)

    how = "rule engine"
    t = time.perf_counter()
    if not args.no_engine:
        try:
            from sqlalchemy.orm import Session

            from service.db import make_engine
            from service.rules.evaluator import reevaluate_all
            from service.settings import Settings

            long_engine = make_engine(Settings(db_statement_timeout_ms=3_600_000))
            with Session(bind=long_engine) as session:
                reevaluate_all(session)
                session.commit()
            long_engine.dispose()
        except Exception as error:  # the fallback below says so
            print(f"rule engine failed ({error!r}); generating verdicts", file=sys.stderr)
            args.no_engine = True
    if args.no_engine:
        how = "generated verdicts"
        with engine.begin() as conn:
            conn.execute(text(_VERDICTS))
            conn.execute(text(_COMPLIANCE))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE verdict"))
        conn.execute(text("ANALYZE cabin_compliance"))
        conn.execute(text("ANALYZE compliance_tally"))  # filled by cabin_compliance's triggers
        figures = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM cabin), (SELECT count(*) FROM verdict),"
                " (SELECT count(*) FROM cabin_compliance)"
            )
        ).one()
    print(
        f"verdicts by {how}: {time.perf_counter() - t:.1f} s; cabins {figures[0]},"
        f" verdicts {figures[1]}, compliance rows {figures[2]}",
        file=sys.stderr,
    )
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
