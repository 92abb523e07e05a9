-- 100,000 generated cabins over the real communes of the current layer, set-based: each cabin
-- draws a commune with probability proportional to its population, then every commune gets
-- its count of random points inside its polygon (ST_GeneratePoints). About 90 % are active;
-- accessibility facts are true / false / unknown at random. Idempotent: the bench operator's
-- cabins are replaced.
BEGIN;
SELECT setseed(0.42);

INSERT INTO operator (id, name, siren, contact_email)
VALUES ('00000000-0000-4000-8000-00000000b0b0', 'Opérateur de banc d''essai', '732829320',
        'bench@example.org')
ON CONFLICT (id) DO NOTHING;
DELETE FROM cabin WHERE operator_id = '00000000-0000-4000-8000-00000000b0b0';

CREATE TEMP TABLE bench_commune ON COMMIT DROP AS
SELECT c.insee, c.departement, c.region, c.epci, c.vintage, c.geom,
       sum(c.population) OVER (ORDER BY c.insee) - c.population AS lo,
       sum(c.population) OVER (ORDER BY c.insee) AS hi
FROM commune c
WHERE c.layer_id IN (SELECT id FROM layer WHERE kind = 'commune' AND is_current)
  AND c.population > 0 AND c.geom IS NOT NULL;
CREATE INDEX ON bench_commune (lo, hi);

CREATE TEMP TABLE bench_draw ON COMMIT DROP AS
SELECT c.insee, count(*)::int AS n
FROM (SELECT random() * (SELECT max(hi) FROM bench_commune) AS r
      FROM generate_series(1, 100000)) d
JOIN bench_commune c ON d.r >= c.lo AND d.r < c.hi
GROUP BY c.insee;

INSERT INTO cabin (
  id, reference, operator_id, operator_reference, status, geom, declared_insee,
  commune_insee, departement_code, region_code, epci_siren, commune_vintage,
  venue_kind, venue_name, address_street, address_postcode, address_commune_name,
  opening_hours, venue_building_regime, accessibility, fees, siting, care_links,
  updated_at
)
SELECT
  gen_random_uuid(),
  'CAB-B' || lpad(to_hex(row_number() OVER ()::int), 7, '0'),
  '00000000-0000-4000-8000-00000000b0b0',
  'BENCH-' || row_number() OVER (),
  CASE WHEN random() < 0.9 THEN 'active'
       ELSE (ARRAY['draft', 'declared', 'suspended', 'decommissioned'])[1 + floor(random() * 4)::int]
  END,
  p.geom,
  c.insee, c.insee, c.departement, c.region, c.epci, c.vintage,
  (ARRAY['pharmacie_officine', 'msp', 'centre_sante', 'mairie_france_services',
         'grande_surface', 'gare_transport', 'entreprise'])[1 + floor(random() * 7)::int],
  'Site ' || c.insee,
  'rue de la Santé', NULL, NULL,
  'Mo-Fr 09:00-19:00; Sa 09:00-12:00',
  CASE WHEN random() < 0.3 THEN 'new' WHEN random() < 0.6 THEN 'existing' END,
  jsonb_strip_nulls(jsonb_build_object(
    'entree_plain_pied', (ARRAY[true, false, NULL])[1 + floor(random() * 3)::int],
    'cabin_door_clear_width_cm', (ARRAY[70, 80, 85, 90, NULL])[1 + floor(random() * 5)::int],
    'turning_diameter_cm', (ARRAY[120, 150, 160, NULL])[1 + floor(random() * 4)::int],
    'hearing_loop', (ARRAY[true, false, NULL])[1 + floor(random() * 3)::int],
    'sign_language_interpreting', (ARRAY[true, false, NULL])[1 + floor(random() * 3)::int],
    'speech_output', (ARRAY[true, false, NULL])[1 + floor(random() * 3)::int]
  )),
  jsonb_build_object('base_fee_eur', 30, 'sector', 'sector_1', 'depassements_possible', false),
  '{}'::jsonb, '[]'::jsonb,
  now() - random() * interval '700 days'
FROM bench_draw d
JOIN bench_commune c USING (insee)
CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(c.geom, d.n)) p;

COMMIT;
ANALYZE cabin;
SELECT status, count(*) FROM cabin GROUP BY status ORDER BY status;
