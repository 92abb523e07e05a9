"""The three pages in headless Chromium against the live service: the finder map shows
cabins, its wheelchair filter changes the list, a card opens and closes with the keyboard
only; an ARS key sees only its région on the dashboard; an operator uploads a CSV and sees the
row errors; axe-core finds no serious or critical violation on any page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.conftest import needs_chromium, run_axe, screenshot
from tests.web.data import CABINS

pytestmark = needs_chromium

VENUES = {spec["ref"]: spec["venue"] for spec in CABINS}


def results_text(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("#results li").all_inner_texts()


def test_finder_map_loads_and_shows_the_active_cabins(page, web_data_committed) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.wait_for_function("document.querySelectorAll('#results li[data-reference]').length >= 5")
    listed = " ".join(results_text(page))
    for venue in VENUES.values():
        assert venue in listed
    # one marker per cabin on the map (circle markers are SVG paths)
    assert page.locator("#map path.leaflet-interactive").count() >= len(CABINS)
    assert page.locator("html").get_attribute("lang") == "fr"
    screenshot(page, "carte")
    assert page.js_errors == []


def test_searching_a_commune_then_the_wheelchair_filter_changes_the_list(
    page, web_data_committed
) -> None:  # type: ignore[no-untyped-def]
    page.goto("/carte")
    page.get_by_label("Commune (nom ou code INSEE) ou code postal").fill("Lyon")
    page.get_by_role("button", name="Rechercher").click()
    page.wait_for_function("document.querySelector('#status').textContent.includes('Lyon')")
    before = " ".join(results_text(page))
    assert VENUES["WEB-LYON-1"] in before and VENUES["WEB-LYON-2"] in before
    assert before.index(VENUES["WEB-LYON-1"]) < before.index(VENUES["WEB-PARIS-1"])  # by distance

    page.get_by_label("Fauteuil roulant").check()
    page.wait_for_function(
        "![...document.querySelectorAll('#results li')]"
        ".some(li => li.textContent.includes('Terreaux'))"
    )
    after = " ".join(results_text(page))
    assert VENUES["WEB-LYON-1"] in after  # step-free, 90 cm door, 160 cm turning space
    assert VENUES["WEB-LYON-2"] not in after  # steps at the entrance, 70 cm door
    assert VENUES["WEB-LYON-3"] not in after  # unknown is never reported as met
    assert len(page.locator("#results li").all()) < len(before.split("Fauteuil roulant")) - 1
    screenshot(page, "carte-lyon-fauteuil")
    assert page.js_errors == []


def test_a_cabin_card_opens_and_closes_with_the_keyboard_only(page, web_data_committed) -> None:  # type: ignore[no-untyped-def]
    page.goto("/carte")
    page.wait_for_function("document.querySelectorAll('#results li[data-reference]').length >= 5")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('cabin-open')"):
            break
    else:
        pytest.fail("no cabin in the list could be reached with Tab")
    opened = page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    card = page.locator("#card")
    card.wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "card-title"
    text = card.inner_text()
    assert opened in text
    for heading in ("Horaires d'ouverture", "Tarifs affichés aux patients", "Accessibilité"):
        assert heading in text
    assert "Consultation : 30" in text
    assert "Largeur de passage de la porte" in text  # the reasons behind the wheelchair status
    assert "Conformité aux règles d'implantation" in text
    screenshot(page, "carte-fiche")

    page.keyboard.press("Escape")
    card.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.textContent") == opened


def test_the_language_switch_shows_the_map_in_english(page, web_data_committed) -> None:  # type: ignore[no-untyped-def]
    page.goto("/carte")
    page.get_by_role("button", name="Switch to English").click()
    assert page.locator("h1").inner_text() == "Find a teleconsultation cabin"
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_label("Wheelchair").check()
    page.goto("/carte")  # the choice is remembered
    assert page.locator("h1").inner_text() == "Find a teleconsultation cabin"


def test_choosing_a_commune_with_the_keyboard_leaves_the_focus_on_its_results(
    page, web_data_committed
) -> None:  # type: ignore[no-untyped-def]
    """'Saint-Denis' names several communes: the choice taken with Enter moves the focus to
    the results it asked for (it fell back to the top of the page with the removed button)."""
    page.goto("/carte")
    page.get_by_label("Commune (nom ou code INSEE) ou code postal").fill("Saint-Denis")
    page.keyboard.press("Enter")
    page.locator("#choices button").first.wait_for()
    assert page.evaluate("document.activeElement.closest('#choices') !== null")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.id === 'results-title'")
    assert "Saint-Denis" in page.locator("#status").inner_text()
    page.keyboard.press("Tab")  # onwards into the list, not from the page's top
    assert page.evaluate("document.activeElement.closest('#results') !== null")
    assert page.js_errors == []


def test_a_card_in_english_reads_as_english_and_says_each_need_once(
    page, web_data_committed
) -> None:  # type: ignore[no-untyped-def]
    """'Wheelchair: yes', not the French 'Wheelchair : yes'; and a need that stands on one
    fact (the induction loop) is one line, not its status then the same fact again."""
    page.goto("/carte")
    page.get_by_role("button", name="Switch to English").click()
    page.wait_for_function("document.querySelectorAll('#results li[data-reference]').length >= 5")
    page.locator("#results .cabin-open").first.click()
    card = page.locator("#card")
    card.wait_for(state="visible")
    text = card.inner_text()
    assert "Wheelchair: " in text and "Door clear width: " in text
    assert " : " not in text, text
    lines = [line for line in text.splitlines() if "loop" in line.lower()]
    assert len(lines) == 1, lines
    assert "Door clear width" in text  # the wheelchair need still lists its measurements
    assert page.js_errors == []


def test_near_me_refused_by_the_browser_is_said_in_the_page_language(
    browser, live_server, web_data_committed
) -> None:  # type: ignore[no-untyped-def]
    """No position permission: the page says so in French and what to do instead, never the
    browser's own English message ('User denied Geolocation')."""
    context = browser.new_context(
        base_url=live_server,
        locale="fr-FR",
        bypass_csp=True,  # wait_for_function evaluates a string
    )
    # The browser refuses as Chromium does when the user blocks the prompt (headless Chromium
    # left alone answers sooner or later depending on the machine).
    context.add_init_script(
        "navigator.geolocation.getCurrentPosition = (ok, fail) =>"
        " setTimeout(() => fail({ code: 1, message: 'User denied Geolocation' }), 1500);"
    )
    page = context.new_page()
    try:
        page.goto("/carte")
        page.get_by_role("button", name="Autour de moi").click()
        status = page.locator("#status")
        # while the browser asks the user, the page says so (not 'Chargement…' for ever)
        assert status.inner_text().startswith("Position demandée au navigateur")
        page.wait_for_function(
            "document.querySelector('#status').textContent.startsWith('Le navigateur')"
        )
        text = status.inner_text()
        assert text.startswith("Le navigateur n'a pas été autorisé à donner votre position"), text
        assert "denied" not in text.lower()
    finally:
        context.close()


def sign_in(page, key: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Clé d'API").fill(key)
    page.get_by_role("button", name="Se connecter").click()


def test_regulator_dashboard_with_an_ars_key_shows_only_its_region(
    page, web_data_committed
) -> None:  # type: ignore[no-untyped-def]
    page.goto("/regulateur")
    sign_in(page, web_data_committed.ars_84_key)
    page.locator("#summary-table table").wait_for()
    page.locator("#cabins-table table").wait_for()
    rows = page.locator("#summary-table tbody tr").all_inner_texts()
    assert any("(84)" in row for row in rows)
    assert not any("(11)" in row for row in rows)
    listed = page.locator("#cabins-table").inner_text()
    refs = web_data_committed.references
    assert refs["WEB-LYON-2"] in listed and refs["WEB-GRENOBLE-1"] in listed
    assert "SIT-05" in listed and "SIT-08" in listed
    assert refs["WEB-PARIS-1"] not in listed  # région 11: outside the ARS's scope
    assert refs["WEB-LYON-1"] not in listed  # compliant: not in the non-compliant list
    # the choropleth draws the one région of the summary
    page.wait_for_function("document.querySelectorAll('#choropleth path').length >= 1")
    assert page.locator("#choropleth path").count() == len(rows) - 1  # the total row has none
    # the key is kept for the tab only
    assert page.evaluate("sessionStorage.length") == 1
    assert page.evaluate("localStorage.getItem('cabin-registry.api-key')") is None
    screenshot(page, "regulateur")

    # the CSV export, fetched with the key, holds the région's cabins only
    with page.expect_download() as download:
        page.get_by_role("button", name="Exporter en CSV").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert download.value.suggested_filename.endswith(".csv")
    assert refs["WEB-GRENOBLE-1"] in exported and refs["WEB-LYON-1"] in exported
    assert refs["WEB-PARIS-1"] not in exported
    with page.expect_download():
        page.get_by_role("button", name="Exporter en GeoJSON").click()
    page.wait_for_function("document.querySelector('#export-status').textContent.includes('Geo')")
    assert page.locator("#export-status").inner_text() == "Export GeoJSON téléchargé."
    assert page.js_errors == []


def test_a_refused_filter_says_why_and_shows_none_of_the_previous_figures(
    page, web_data_committed
) -> None:  # type: ignore[no-untyped-def]
    """Région 99 does not exist: both parts say so in the API's words, and the previous
    filter's summary and cabins are gone (they read as the answer, under 'Chargement…')."""
    page.goto("/regulateur")
    sign_in(page, web_data_committed.ars_84_key)
    page.locator("#cabins-table table").wait_for()
    page.locator("#f-region").fill("99")
    page.get_by_role("button", name="Appliquer").click()
    page.wait_for_function("document.querySelector('#cabins-status').textContent.includes('99')")
    for status in ("#summary-status", "#cabins-status"):
        text = page.locator(status).inner_text()
        assert text.startswith("Erreur") and "region : '99'" in text, text
    assert page.locator("#summary-table table").count() == 0
    assert page.locator("#cabins-table table").count() == 0
    assert page.locator("#cabins-more").is_hidden()
    page.locator("#f-region").fill("")
    page.get_by_role("button", name="Appliquer").click()
    page.locator("#cabins-table table").wait_for()  # a good filter answers again
    assert page.locator("#summary-table table").count() == 1
    assert page.js_errors == []


def test_regulator_page_refuses_a_bad_key(page, web_data_committed) -> None:  # type: ignore[no-untyped-def]
    page.goto("/regulateur")
    sign_in(page, "cr_000000000000_" + "x" * 43)
    page.locator("#key-error").wait_for()
    message = page.locator("#key-error").inner_text()
    assert message == "Clé refusée : elle est inconnue ou a été révoquée."  # all in French
    assert page.locator("#dashboard").is_hidden()
    assert page.locator("#logout").is_hidden()  # nobody is signed in
    assert page.evaluate("sessionStorage.length") == 0


BAD_CSV = (
    "operator_reference,location.lon,location.lat,location.declared_insee,venue.kind\n"
    "CSV-1,4.8357,45.7640,69123,pharmacie_officine\n"
    "CSV-2,200,45.7640,69123,pharmacie_officine\n"
    "CSV-3,4.8357,45.7640,69123,casino\n"
)


def test_operator_page_lists_its_cabins_and_shows_the_import_row_errors(
    page, web_data_committed, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    page.goto("/operateur")
    sign_in(page, web_data_committed.operator_key)
    page.locator("#cabins-table table").wait_for()
    listed = page.locator("#cabins-table").inner_text()
    refs = web_data_committed.references
    assert refs["WEB-LYON-2"] in listed
    assert refs["WEB-PARIS-1"] not in listed  # another operator's cabin

    page.get_by_role("button", name=f"Voir ce qu'il faut corriger ({refs['WEB-LYON-2']})").click()
    page.locator("#fix").wait_for(state="visible")
    fix = page.locator("#fix").inner_text()
    # the failing rule, its severity and its reason in words; the evidence's data behind a
    # disclosure (it was the raw JSON, braces and all, and 'error' untranslated)
    assert "SIT-05 (erreur)" in fix, fix
    assert "the cabin stands outdoors; it must be indoors" in fix
    assert '"expected"' not in fix
    page.get_by_text("Détail des données de la règle").click()
    assert '"expected": "indoor"' in page.locator("#fix").inner_text()

    csv = tmp_path / "cabines.csv"
    csv.write_text(BAD_CSV, encoding="utf-8")
    page.get_by_label("Fichier CSV (une cabine par ligne)").set_input_files(str(csv))
    page.get_by_role("button", name="Importer").click()
    page.locator("#import-report table").wait_for()
    rows = page.locator("#import-report tbody tr").all_inner_texts()
    assert any(row.startswith("2") and "location.lon" in row for row in rows), rows
    assert any(row.startswith("3") and "venue.kind" in row for row in rows), rows
    assert not any(row.startswith("1\t") for row in rows)
    screenshot(page, "operateur")

    # no file chosen: the page asks for one, and the previous file's report is gone
    page.get_by_label("Fichier CSV (une cabine par ligne)").set_input_files([])
    page.get_by_role("button", name="Importer").click()
    assert page.locator("#import-status").inner_text() == "Choisissez un fichier CSV."
    assert page.locator("#import-report table").count() == 0
    assert page.js_errors == []


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/carte", None),
        ("/regulateur", None),
        ("/regulateur", "ars_84_key"),
        ("/operateur", None),
        ("/operateur", "operator_key"),
    ],
)
def test_pages_have_no_serious_or_critical_accessibility_violation(
    page, web_data_committed, path, key
) -> None:  # type: ignore[no-untyped-def]
    page.goto(path)
    if key:  # signed in: the dashboard, the operator's cabins and a fix panel or report
        sign_in(page, getattr(web_data_committed, key))
        page.locator("#cabins-table table").wait_for()
        if path == "/operateur":
            page.locator("#cabins-table button").first.click()
            page.locator("#fix").wait_for(state="visible")
    elif path == "/carte":  # the list and an open card
        page.wait_for_function(
            "document.querySelectorAll('#results li[data-reference]').length >= 5"
        )
        page.locator("#results .cabin-open").first.click()
        page.locator("#card").wait_for(state="visible")
    else:  # the sign-in form
        page.locator("#key-form").wait_for()
    violations = run_axe(page)
    summary = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
    assert violations == [], summary


def test_near_me_lists_the_nearest_cabins_from_the_browser_position(  # type: ignore[no-untyped-def]
    browser, live_server, web_data_committed
) -> None:
    context = browser.new_context(
        base_url=live_server,
        geolocation={"latitude": 45.19, "longitude": 5.72},  # Grenoble
        permissions=["geolocation"],
        bypass_csp=True,  # wait_for_function evaluates a string
    )
    page = context.new_page()
    try:
        page.goto("/carte")
        page.get_by_role("button", name="Autour de moi").click()
        page.wait_for_function("document.querySelector('#status').textContent.includes('position')")
        first = page.locator("#results li").first.inner_text()
        assert VENUES["WEB-GRENOBLE-1"] in first
        assert " m" in first or " km" in first  # the distance is shown
    finally:
        context.close()


def test_the_pages_work_under_their_content_security_policy(  # type: ignore[no-untyped-def]
    browser, live_server, web_data_committed
) -> None:
    context = browser.new_context(base_url=live_server)  # the policy enforced, unlike `page`
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        page.goto("/carte")
        page.locator("#results li[data-reference]").nth(len(CABINS) - 1).wait_for()
        page.goto("/regulateur")
        sign_in(page, web_data_committed.national_key)
        page.locator("#choropleth path").first.wait_for()
        assert page.locator("#summary-table tbody tr").count() == 3  # régions 11, 84, total
        assert not [line for line in console if line.startswith("error")], console
    finally:
        context.close()


def test_the_api_reference_draws_the_contract_under_the_policy_from_this_site_only(  # type: ignore[no-untyped-def]
    browser, live_server
) -> None:
    context = browser.new_context(base_url=live_server)  # the policy enforced
    page = context.new_page()
    console: list[str] = []
    asked: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("request", lambda request: asked.append(request.url))
    try:
        page.goto("/docs")
        page.locator(".swagger-ui .info .title").wait_for()
        assert "Cabin Registry" in page.locator(".swagger-ui .info .title").inner_text()
        assert page.locator(".opblock").count() > 30  # every operation of the contract
        assert not [line for line in console if line.startswith("error")], console
        assert [url for url in asked if not url.startswith(live_server)] == []
    finally:
        context.close()
