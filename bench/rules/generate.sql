-- 100,000 (:n) generated cabins over the real communes: communes weighted by population,
-- random points inside each commune polygon (ST_GeneratePoints, once per commune), every
-- block filled at random (tri-state facts true / false / absent), 2 % declared in another
-- commune than the one holding the point. Run by bench/rules/run.py; psql variables :n, :seed.
SELECT setseed(:seed);

DELETE FROM cabin WHERE operator_reference LIKE 'BENCH-%';
INSERT INTO operator (id, name, siren, is_demo)
SELECT '00000000-0000-4000-8000-00000000b0b0', 'Bench operator', '732829320', false
WHERE NOT EXISTS (SELECT 1 FROM operator WHERE id = '00000000-0000-4000-8000-00000000b0b0');

CREATE TEMP TABLE bench_point AS
WITH c AS (
  SELECT insee, departement, region, epci, vintage, geom, population::float8 AS pop
  FROM commune
  WHERE layer_id IN (SELECT id FROM layer WHERE kind = 'commune' AND is_current)
    AND population > 0 AND geom IS NOT NULL
), k AS (
  SELECT c.*, floor(:n * pop / sum(pop) OVER () + random())::int AS k FROM c
)
SELECT insee, departement, region, epci, vintage,
       (ST_Dump(ST_GeneratePoints(geom, k))).geom AS geom
FROM k WHERE k > 0;

CREATE TEMP TABLE bench_finess AS
SELECT array_agg(finess) AS finess FROM (
  SELECT finess FROM health_site
  WHERE layer_id IN (SELECT id FROM layer WHERE kind = 'health_site' AND is_current)
  ORDER BY random() LIMIT 5000) s;

CREATE OR REPLACE FUNCTION pg_temp.tri(p float8) RETURNS jsonb LANGUAGE sql VOLATILE AS
$$ SELECT CASE WHEN random() < p THEN 'true'::jsonb WHEN random() < 0.6 THEN 'false'::jsonb END $$;
CREATE OR REPLACE FUNCTION pg_temp.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT a[1 + floor(random() * array_length(a, 1))::int] $$;

INSERT INTO cabin (
  id, reference, operator_id, operator_reference, status, declared_date, service_start_date,
  geom, declared_insee, commune_insee, departement_code, region_code, epci_siren,
  commune_vintage, venue_kind, venue_name, venue_finess, venue_naf, venue_building_regime,
  venue_cabin_count, ars_declaration_date, ars_declaration_reference, cpam_informed_date,
  cpts_informed_date, opening_hours, siting, care_links, provider, fees, accessibility,
  siting_confirmed_at, declarations_confirmed_at, care_links_confirmed_at,
  provider_confirmed_at, fees_confirmed_at, accessibility_confirmed_at)
SELECT
  gen_random_uuid(),
  'CAB-B' || lpad(upper(to_hex(i)), 7, '0'),
  '00000000-0000-4000-8000-00000000b0b0',
  'BENCH-' || i,
  status, start - 30, start,
  geom,
  CASE WHEN random() < 0.02 THEN '75056' ELSE insee END,
  insee, departement, region, epci, vintage,
  kind, 'Lieu ' || i,
  CASE WHEN random() < 0.2 THEN departement || lpad(floor(random() * 1e6)::int::text, 9 - length(departement), '0') END,
  CASE WHEN random() < 0.3 THEN pg_temp.pick(ARRAY['47.11F', '47.73Z', '86.21Z', '47.11D', '56.30Z']) END,
  pg_temp.pick(ARRAY['new', 'existing']),
  1 + floor(random() * 3)::int,
  CASE WHEN random() < 0.8 THEN start - floor(random() * 60)::int END,
  CASE WHEN random() < 0.8 THEN 'ARS-' || i END,
  CASE WHEN random() < 0.75 THEN start - floor(random() * 30)::int END,
  CASE WHEN random() < 0.5 THEN start - floor(random() * 30)::int END,
  pg_temp.pick(ARRAY['Mo-Fr 09:00-19:00', 'Mo-Sa 08:30-20:00', '24/7',
                     'Mo-Fr 09:00-12:00,14:00-18:00; Sa 09:00-12:00', NULL]),
  jsonb_strip_nulls(jsonb_build_object(
    'placement', pg_temp.pick(ARRAY['indoor_room', 'indoor_room', 'indoor_open_area', 'outdoor', NULL]),
    'directly_reachable_from_public_space', pg_temp.tri(0.2),
    'enclosure', pg_temp.pick(ARRAY['closed_cabin', 'closed_room', 'open_borne', NULL]),
    'sound_insulated', pg_temp.tri(0.7),
    'waiting_area_dedicated', pg_temp.tri(0.6),
    'commercial_solicitation_free', pg_temp.tri(0.6),
    'responsible_person', jsonb_strip_nulls(jsonb_build_object(
       'name_or_role', CASE WHEN random() < 0.8 THEN 'pharmacien' END,
       'trained_on_date', CASE WHEN random() < 0.7 THEN to_char(start - 90, 'YYYY-MM-DD') END,
       'bound_by_secrecy', pg_temp.tri(0.8))),
    'staff_hours', pg_temp.pick(ARRAY['Mo-Fr 09:00-19:00', 'Mo-Sa 08:00-20:00', 'Mo-Fr 10:00-17:00', NULL]),
    'assistance_modes', CASE WHEN random() < 0.4 THEN '["pharmacist"]'::jsonb ELSE '["none"]'::jsonb END,
    'devices', CASE WHEN random() < 0.5
                    THEN '["stethoscope_connected", "otoscope_connected", "oximeter", "blood_pressure_monitor"]'::jsonb
                    ELSE '["oximeter"]'::jsonb END)),
  CASE WHEN random() < 0.6
       THEN jsonb_build_array(jsonb_build_object('kind', 'pharmacie',
              'finess', (SELECT finess[1 + floor(random() * 4999)::int] FROM bench_finess)))
       ELSE '[]'::jsonb END,
  CASE WHEN random() < 0.7 THEN jsonb_strip_nulls(jsonb_build_object(
       'name', 'Téléconsult', 'kind', pg_temp.pick(ARRAY['company_employing_doctors', 'platform_only', 'local_practitioners']),
       'siret', '73282932000074',
       'agrement_number', CASE WHEN random() < 0.6 THEN 'AGR-' || i END,
       'agrement_start_date', to_char(start - 200, 'YYYY-MM-DD'),
       'agrement_end_date', to_char(start + 500, 'YYYY-MM-DD'))) END,
  CASE WHEN random() < 0.7 THEN jsonb_strip_nulls(jsonb_build_object(
       'base_fee_eur', 25, 'sector', pg_temp.pick(ARRAY['sector_1', 'sector_2']),
       'depassements_possible', pg_temp.tri(0.3), 'optional_services', '[]'::jsonb,
       'venue_access_fee_eur', CASE WHEN random() < 0.8 THEN 0 END,
       'info_url', CASE WHEN random() < 0.7 THEN 'https://example.org/tarifs' END,
       'shown_on_site', pg_temp.tri(0.7))) END,
  jsonb_strip_nulls(jsonb_build_object(
    'entree_plain_pied', pg_temp.tri(0.7),
    'entree_largeur_mini', CASE WHEN random() < 0.7 THEN 70 + floor(random() * 40) END,
    'threshold_height_cm', CASE WHEN random() < 0.6 THEN floor(random() * 4) END,
    'path_width_cm', CASE WHEN random() < 0.6 THEN 100 + floor(random() * 60) END,
    'cabin_door_clear_width_cm', CASE WHEN random() < 0.7 THEN 70 + floor(random() * 30) END,
    'turning_diameter_cm', CASE WHEN random() < 0.6 THEN 120 + floor(random() * 50) END,
    'controls_height_min_cm', CASE WHEN random() < 0.6 THEN 80 + floor(random() * 20) END,
    'controls_height_max_cm', CASE WHEN random() < 0.6 THEN 120 + floor(random() * 20) END,
    'desk_height_cm', CASE WHEN random() < 0.5 THEN 70 + floor(random() * 20) END,
    'seat_or_transfer_possible', pg_temp.tri(0.7),
    'hearing_loop', pg_temp.tri(0.4),
    'registre_url', CASE WHEN random() < 0.5 THEN 'https://example.org/rpa' END)),
  now() - random() * interval '500 days', now() - random() * interval '500 days',
  now() - random() * interval '500 days', now() - random() * interval '500 days',
  now() - random() * interval '500 days', now() - random() * interval '500 days'
FROM (
  SELECT row_number() OVER () AS i, p.*,
         pg_temp.pick(ARRAY['active', 'active', 'active', 'active', 'active', 'active',
                            'active', 'active', 'declared', 'suspended', 'draft']) AS status,
         date '2025-01-01' + floor(random() * 600)::int AS start,
         pg_temp.pick(ARRAY['pharmacie_officine', 'pharmacie_officine', 'pharmacie_officine',
           'pui', 'laboratoire_biologie', 'cabinet_medical', 'cabinet_paramedical', 'msp',
           'centre_sante', 'etablissement_sante', 'esms', 'opticien', 'audioprothesiste',
           'mairie_france_services', 'entreprise', 'enseignement', 'gare_transport',
           'grande_surface', 'centre_commercial', 'debit_de_boissons', 'autre']) AS kind
  FROM bench_point p
  LIMIT :n
) s;

ANALYZE cabin;
SELECT count(*) AS bench_cabins FROM cabin WHERE operator_reference LIKE 'BENCH-%';
