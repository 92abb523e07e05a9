"""The browser tests' harness: the committed test data, the service served by uvicorn in a
background thread on a free port against the test database, and headless Chromium (Debian's
`chromium`, driven by Playwright). Screenshots go to tests/artifacts/ (gitignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from service.settings import Settings
from tests.servers import serving
from tests.web import data as web_data

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
AXE = ROOT / "service" / "web" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is absent: `make system` installs Debian's chromium",
)


@pytest.fixture(scope="module")
def web_data_committed(engine: Engine) -> Iterator[web_data.WebData]:
    data = web_data.create(engine)
    try:
        yield data
    finally:
        web_data.remove(engine, data)


@pytest.fixture(scope="module")
def live_server(settings: Settings, web_data_committed: web_data.WebData) -> Iterator[str]:
    from service.app import create_app

    with serving(create_app(settings)) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: `make system` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    # bypass_csp: the accessibility check injects axe-core as an inline script.
    context = browser.new_context(
        base_url=live_server,
        bypass_csp=True,
        locale="fr-FR",
        viewport={"width": 1280, "height": 900},
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def run_axe(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """axe-core's violations of impact serious or critical (WCAG 2.x A and AA rules)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make web` runs npm ci in service/web/frontend")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: 'tag',
                      values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
        })"""
    )
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
