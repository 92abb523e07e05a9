"""Valid cabin bodies over real communes, to be varied by each test."""

from __future__ import annotations

import copy
from typing import Any

from tests.auth.factories import valid_siret

PARIS = {"lon": 2.3522, "lat": 48.8566, "declared_insee": "75056"}
LYON = {"lon": 4.8357, "lat": 45.7640, "declared_insee": "69123"}


def cabin_body(reference: str = "PH-001", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "operator_reference": reference,
        "location": {
            **PARIS,
            "address": {"number": "12", "street": "rue de Rivoli", "postcode": "75004"},
        },
        "venue": {
            "kind": "pharmacie_officine",
            "name": "Pharmacie de l'Hôtel de Ville",
            "siret": valid_siret(),
            "finess": "750012345",
            "building_regime": "existing",
            "cabin_count": 1,
        },
        "opening_hours": "Mo-Fr 09:00-19:00; Sa 09:00-12:30",
        "siting": {
            "placement": "indoor_room",
            "directly_reachable_from_public_space": False,
            "enclosure": "closed_room",
            "sound_insulated": True,
            "responsible_person": {
                "name_or_role": "pharmacien titulaire",
                "bound_by_secrecy": True,
            },
            "staff_hours": "Mo-Fr 09:00-19:00; Sa 09:00-12:30",
            "assistance_modes": ["pharmacist"],
            "devices": ["stethoscope_connected", "otoscope_connected", "oximeter"],
        },
        "declarations": {"ars_declaration_date": "2026-01-15", "cpam_informed_date": "2026-01-20"},
        "care_links": [{"kind": "pharmacie", "finess": "750012345"}],
        "fees": {"base_fee_eur": 30, "sector": "sector_1", "depassements_possible": False},
        "accessibility": {
            "entree_plain_pied": True,
            "entree_largeur_mini": 90,
            "cabin_door_clear_width_cm": 85,
            "turning_diameter_cm": 150,
            "hearing_loop": None,
        },
    }
    body = copy.deepcopy(body)
    for path, value in overrides.items():
        target = body
        keys = path.split("__")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return body
