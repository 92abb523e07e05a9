// The public finder: active cabins on a map (plain background: no tiles offline; the searched
// commune's outline comes from the territories API), a search near a commune or near me,
// accessibility filters, and a keyboard-reachable card per cabin. No key needed.
import "leaflet/dist/leaflet.css";
import "./common/style.css";
import L from "leaflet";
import { $, clear, h } from "./common/dom.js";
import { date, known, labelled, number, setupLanguage, t, venueKind } from "./common/i18n.js";
import { getJson, query } from "./common/api.js";

const FRANCE = [[41.3, -5.2], [51.1, 9.6]];
const MAX_SPAN_DEG = 2; // /public/cabins answers windows up to this span (public_bbox_max_span_deg)
const WIDE_LIMIT = 500; // cabins asked from the OGC collection for a wider view
const NEAR_LIMIT = 20;
const NEEDS = ["wheelchair", "hearing_loop", "sign_language", "speech_output"];
const NEED_FACT = { hearing_loop: "hearing_loop", sign_language: "sign_language_interpreting", speech_output: "speech_output" };

const state = { mode: "window", cabins: [], more: false, total: 0, place: null, selected: null, opener: null, seq: 0 };

const map = L.map("map", { attributionControl: false, keyboard: true, minZoom: 4, zoomSnap: 0.25 }).fitBounds(FRANCE);
// No tiles offline: the mainland régions' outlines (territories API) give the bearings, in a
// pane below the cabins.
const MAINLAND_REGIONS = ["11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94"];
map.createPane("base").style.zIndex = "350";
const base = L.geoJSON(null, { pane: "base", style: { color: "#6b6b6b", weight: 1, fill: false }, interactive: false }).addTo(map);
const markers = L.layerGroup().addTo(map);
const outline = L.geoJSON(null, { style: { color: "#000091", weight: 2, fillOpacity: 0.05 }, interactive: false }).addTo(map);
const status = $("#status");
const results = $("#results");
const card = $("#card");

function chosenNeeds() {
  return [...document.querySelectorAll('input[name="need"]:checked')].map((el) => el.value);
}

function fromFeature(feature) {
  const [lon, lat] = feature.geometry.coordinates;
  return { reference: feature.id ?? feature.properties.reference, lon, lat, properties: feature.properties };
}

function meets(cabin, need) {
  if (cabin.needs && cabin.needs[need]) return cabin.needs[need].status === "met";
  const p = cabin.properties;
  if (need === "wheelchair") return p.wheelchair === "met";
  return p[NEED_FACT[need]] === true;
}

function showError(error) {
  status.textContent = t("error", { detail: error.message });
}

async function loadWindow() {
  const b = map.getBounds();
  const west = Math.max(b.getWest(), -180);
  const south = Math.max(b.getSouth(), -90);
  const east = Math.min(b.getEast(), 180);
  const north = Math.min(b.getNorth(), 90);
  const bbox = [west, south, east, north].map((v) => v.toFixed(5)).join(",");
  const small = east - west <= MAX_SPAN_DEG && north - south <= MAX_SPAN_DEG;
  if (bbox === state.loaded) return; // the same window: nothing new to ask
  state.loaded = bbox;
  const seq = ++state.seq;
  const url = small
    ? `/public/cabins${query({ bbox })}`
    : `/ogc/collections/cabins/items${query({ bbox, limit: WIDE_LIMIT })}`;
  status.textContent = t("loading");
  try {
    const collection = await getJson(url, { accept: "application/geo+json, application/json" });
    if (seq !== state.seq) return;
    state.cabins = collection.features.map(fromFeature);
    state.more = !small && (collection.links || []).some((link) => link.rel === "next");
    render();
  } catch (error) {
    if (seq === state.seq) showError(error);
    state.loaded = null;
  }
}

async function loadNear() {
  const seq = ++state.seq;
  state.loaded = null;
  const { lat, lon } = state.place;
  status.textContent = t("loading");
  try {
    const body = await getJson(`/public/cabins/nearest${query({ lat, lon, limit: NEAR_LIMIT, needs: chosenNeeds() })}`);
    if (seq !== state.seq) return;
    state.cabins = body.results.map((r) => ({ reference: r.reference, lon: r.lon, lat: r.lat, distance_m: r.distance_m, needs: r.needs, properties: r.properties }));
    state.more = false;
    render();
    const points = state.cabins.map((c) => [c.lat, c.lon]).concat([[lat, lon]]);
    map.fitBounds(L.latLngBounds(points).pad(0.15), { maxZoom: 14 });
  } catch (error) {
    if (seq === state.seq) showError(error);
  }
}

function reload() {
  return state.mode === "near" ? loadNear() : loadWindow();
}

function visible() {
  if (state.mode === "near") return state.cabins; // the server filtered by needs already
  const needs = chosenNeeds();
  return state.cabins.filter((cabin) => needs.every((need) => meets(cabin, need)));
}

function distance(m) {
  return m < 1000 ? `${number(m)} m` : `${number(m / 1000, 1)} km`;
}

function address(p) {
  const street = [p.address_number, p.address_street].filter(Boolean).join(" ");
  const town = [p.address_postcode, p.address_commune_name].filter(Boolean).join(" ");
  return [street, town].filter(Boolean).join(", ");
}

function render() {
  // Re-rendering replaces the list: keep the keyboard focus on the same cabin.
  const focused = document.activeElement?.closest?.("#results li[data-reference]")?.dataset.reference;
  const shown = visible();
  markers.clearLayers();
  for (const cabin of shown) {
    const selected = state.selected && state.selected.reference === cabin.reference;
    L.circleMarker([cabin.lat, cabin.lon], {
      radius: selected ? 10 : 7,
      color: selected ? "#b34000" : "#000091",
      weight: 2,
      fillColor: selected ? "#ffb26b" : "#6a6af4",
      fillOpacity: 0.9,
    })
      .bindTooltip(cabin.properties.venue_name || cabin.reference)
      .on("click", () => openCard(cabin, null))
      .addTo(markers);
  }
  const needs = chosenNeeds();
  let text;
  if (state.mode === "near") text = t("map.count.near", { n: shown.length, place: state.place.name });
  else if (needs.length) text = t("map.count.filtered", { n: shown.length, total: state.cabins.length });
  else text = t("map.count", { n: shown.length });
  if (state.more) text += ` ${t("map.count.more", { n: state.cabins.length })}`;
  status.textContent = text;
  clear(
    results,
    shown.length
      ? shown.map((cabin) =>
          h(
            "li",
            { "data-reference": cabin.reference },
            h(
              "button",
              { type: "button", class: "link cabin-open", "aria-controls": "card", "aria-expanded": String(state.selected?.reference === cabin.reference), onclick: (event) => openCard(cabin, event.currentTarget) },
              cabin.properties.venue_name || cabin.reference,
            ),
            h("span", { class: "meta" }, [address(cabin.properties), cabin.distance_m != null ? distance(cabin.distance_m) : null].filter(Boolean).join(" · ")),
            h("span", { class: "meta" }, labelled(t("need.wheelchair"), t(`need.status.${cabin.properties.wheelchair || "unknown"}`))),
          ),
        )
      : h("li", {}, t("map.empty")),
  );
  if (focused) results.querySelector(`li[data-reference="${CSS.escape(focused)}"] button`)?.focus();
}

// --- the card --------------------------------------------------------------------------

function fact(value) {
  if (value === true) return t("yes");
  if (value === false) return t("no");
  if (value === null || value === undefined) return t("unknown");
  return String(value);
}

function measure(value, minimum) {
  if (value === null || value === undefined) return t("unknown");
  const text = `${number(Number(value))} cm`;
  return minimum ? `${text} (${t("crit.min", { min: minimum })})` : text;
}

const DAYS = {
  fr: { Mo: "lun", Tu: "mar", We: "mer", Th: "jeu", Fr: "ven", Sa: "sam", Su: "dim", PH: "jours fériés", off: "fermé" },
  en: { Mo: "Mon", Tu: "Tue", We: "Wed", Th: "Thu", Fr: "Fri", Sa: "Sat", Su: "Sun", PH: "public holidays", off: "closed" },
};

function hours(text) {
  if (!text) return t("card.hours.none");
  const days = DAYS[document.documentElement.lang] || DAYS.fr;
  return text
    .split(";")
    .map((part) => part.trim().replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su|PH|off)\b/g, (d) => days[d]))
    .filter(Boolean);
}

function wheelchairCriteria(cabin) {
  const evidence = cabin.needs?.wheelchair?.criteria;
  if (evidence) return evidence.map((c) => ({ field: c.field, value: c.value, minimum: c.minimum }));
  const a = cabin.properties.accessibility || {};
  return [
    { field: "entree_plain_pied", value: a.entree_plain_pied },
    { field: "cabin_door_clear_width_cm", value: a.cabin_door_clear_width_cm, minimum: 77 },
    { field: "turning_diameter_cm", value: a.turning_diameter_cm, minimum: 150 },
    { field: "equivalent_solution_documented", value: a.equivalent_solution_documented },
  ];
}

function criterionText(c) {
  return labelled(t(`crit.${c.field}`), c.field.endsWith("_cm") ? measure(c.value, c.minimum) : fact(c.value));
}

function needStatus(cabin, need) {
  if (cabin.needs && cabin.needs[need]) return cabin.needs[need].status;
  if (need === "wheelchair") return cabin.properties.wheelchair || "unknown";
  const value = cabin.properties[NEED_FACT[need]];
  return value === true ? "met" : value === false ? "not_met" : "unknown";
}

function badge(kind, text) {
  return h("span", { class: `badge ${kind}` }, text);
}

const STATUS_BADGE = { met: "ok", not_met: "bad", unknown: "none", compliant: "ok", non_compliant: "bad", incomplete: "warn", accessible: "ok", partial: "warn", not_accessible: "bad" };

function accessibilitySection(cabin) {
  const a = cabin.properties.accessibility || {};
  return h(
    "ul",
    {},
    NEEDS.map((need) => {
      const s = needStatus(cabin, need);
      // The wheelchair need stands on several measurements, each listed; the other needs on
      // one fact, which their status already says (listing it again read every line twice).
      const reasons = need === "wheelchair" ? wheelchairCriteria(cabin).map(criterionText) : [];
      return h("li", {}, h("strong", {}, labelled(t(`need.${need}`))), badge(STATUS_BADGE[s], t(`need.status.${s}`)), reasons.length ? h("ul", {}, reasons.map((r) => h("li", {}, r))) : null);
    }),
    ["live_captioning", "stationnement_pmr"].map((field) => h("li", {}, criterionText({ field, value: a[field] }))),
  );
}

function feesSection(fees) {
  if (!fees || !Object.keys(fees).length) return h("p", {}, t("card.fees.none"));
  const items = [];
  if (fees.base_fee_eur != null) items.push(t("card.fees.base", { eur: number(fees.base_fee_eur, 2) }));
  if (fees.sector) items.push(t("card.fees.sector", { sector: known(`sector.${fees.sector}`) ? t(`sector.${fees.sector}`) : fees.sector }));
  if (fees.depassements_possible !== undefined) items.push(t("card.fees.depassements", { v: fact(fees.depassements_possible) }));
  if (fees.venue_access_fee_eur != null) items.push(t("card.fees.access", { eur: number(fees.venue_access_fee_eur, 2) }));
  const services = fees.optional_services || [];
  return h(
    "div",
    {},
    h("ul", {}, items.map((i) => h("li", {}, i))),
    services.length ? [h("p", {}, t("card.fees.optional")), h("ul", {}, services.map((s) => h("li", {}, labelled(s.name, `${number(s.price_eur, 2)} €`))))] : null,
    fees.info_url ? h("p", {}, h("a", { href: fees.info_url, rel: "noopener" }, t("card.fees.info"))) : null,
  );
}

function complianceSection(p) {
  const status = p.compliance_status;
  const label = p.accessibility_label;
  return h(
    "p",
    {},
    badge(STATUS_BADGE[status] || "none", t(status ? `compliance.${status}` : "compliance.none")),
    label ? [" ", badge(STATUS_BADGE[label] || "none", t(`label.${label}`))] : null,
  );
}

function openCard(cabin, opener) {
  state.selected = cabin;
  state.opener = opener || document.activeElement;
  const p = cabin.properties;
  clear(
    card,
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "card-title", tabindex: "-1" }, p.venue_name || cabin.reference),
      h("button", { type: "button", class: "secondary", id: "card-close", onclick: closeCard }, t("close")),
    ),
    h(
      "dl",
      {},
      h("dt", {}, t("card.reference")), h("dd", {}, cabin.reference),
      h("dt", {}, t("card.venue")), h("dd", {}, [p.venue_name, venueKind(p.venue_kind)].filter(Boolean).join(" — ")),
      h("dt", {}, t("card.address")), h("dd", {}, address(p) || t("unknown")),
      cabin.distance_m != null ? [h("dt", {}, t("card.distance.label")), h("dd", {}, distance(cabin.distance_m))] : null,
    ),
    h("h3", {}, t("card.hours")),
    (() => {
      const lines = hours(p.opening_hours);
      return Array.isArray(lines) ? h("ul", {}, lines.map((l) => h("li", {}, l))) : h("p", {}, lines);
    })(),
    h("h3", {}, t("card.fees")),
    feesSection(p.fees),
    h("h3", {}, t("card.access")),
    accessibilitySection(cabin),
    h("h3", {}, t("card.compliance")),
    complianceSection(p),
    p.updated_at ? h("p", { class: "hint" }, t("card.updated", { date: date(p.updated_at) })) : null,
  );
  card.hidden = false;
  render();
  map.panTo([cabin.lat, cabin.lon]);
  $("#card-title").focus();
}

function closeCard() {
  card.hidden = true;
  const reference = state.selected?.reference;
  state.selected = null;
  render();
  const back = reference && results.querySelector(`li[data-reference="${CSS.escape(reference)}"] button`);
  (back || state.opener || $("#place")).focus();
}

card.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeCard();
});

function drawRegions() {
  for (const code of MAINLAND_REGIONS) {
    getJson(`/v1/territories/regions/${code}${query({ geometry: true })}`)
      .then((region) => region.geometry && base.addData(region.geometry))
      .catch(() => {}); // the outlines are a backdrop: the page works without them
  }
}

// --- search ------------------------------------------------------------------------------

const choices = $("#choices");

async function goTo(place) {
  clear(choices);
  state.place = place;
  state.mode = "near";
  outline.clearLayers();
  if (place.insee) {
    getJson(`/v1/territories/communes/${encodeURIComponent(place.insee)}${query({ geometry: true })}`)
      .then((commune) => commune.geometry && outline.addData(commune.geometry))
      .catch(() => {});
  }
  await loadNear();
}

function communeLabel(c) {
  return `${c.name} (${c.insee}${c.departement ? `, ${c.departement}` : ""})`;
}

async function choose(c) {
  // The chosen button goes with the list: the keyboard focus moves to the results it asked
  // for, not back to the top of the page.
  await goTo({ name: communeLabel(c), insee: c.insee, lon: c.lon, lat: c.lat });
  $("#results-title").focus();
}

$("#search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = $("#place").value.trim();
  if (!q) return;
  clear(choices);
  status.textContent = t("loading");
  try {
    const { items } = await getJson(`/v1/territories/communes${query({ q, limit: 8 })}`);
    if (!items.length) {
      status.textContent = t("map.search.none", { q });
      return;
    }
    const exact = items.filter((c) => c.insee === q || c.name.toLowerCase() === q.toLowerCase());
    if (items.length === 1 || exact.length === 1) {
      const c = exact[0] || items[0];
      await goTo({ name: communeLabel(c), insee: c.insee, lon: c.lon, lat: c.lat });
      return;
    }
    status.textContent = t("map.search.choose");
    clear(
      choices,
      h("p", { id: "choices-title" }, t("map.search.choose")),
      h("ul", { "aria-labelledby": "choices-title" }, items.map((c) => h("li", {}, h("button", { type: "button", class: "link", onclick: () => choose(c) }, communeLabel(c))))),
    );
    choices.querySelector("button").focus();
  } catch (error) {
    showError(error);
  }
});

const GEOLOCATION_ERRORS = { 1: "map.search.geoloc.denied", 2: "map.search.geoloc.failed", 3: "map.search.geoloc.timeout" };

$("#near-me").addEventListener("click", () => {
  if (!navigator.geolocation) {
    status.textContent = t("map.search.geoloc.unavailable");
    return;
  }
  // The browser may be asking the user first (its timeout starts once they answer): say so
  // rather than 'Chargement…' for as long as the question stays open.
  status.textContent = t("map.search.geoloc.asking");
  navigator.geolocation.getCurrentPosition(
    (position) => goTo({ name: t("map.here"), lon: position.coords.longitude, lat: position.coords.latitude }),
    // The browser's own message is in its language, not the page's: say it from the code.
    (error) => (status.textContent = t(GEOLOCATION_ERRORS[error.code] || "map.search.geoloc.failed")),
    { timeout: 10_000 },
  );
});

for (const box of document.querySelectorAll('input[name="need"]')) {
  box.addEventListener("change", () => (state.mode === "near" ? loadNear() : render()));
}

// A user who drags the map is browsing again: back to the cabins of the window.
map.on("dragstart", () => {
  state.mode = "window";
});
let pending = null;
map.on("moveend", () => {
  if (state.mode !== "window") return;
  clearTimeout(pending);
  pending = setTimeout(loadWindow, 250);
});

setupLanguage(() => {
  render();
  if (!card.hidden && state.selected) openCard(state.selected, state.opener);
});
reload().then(drawRegions);
