// The regulators' dashboard: compliance summary by région / département / commune as a table
// and a choropleth (outlines from the territories API), the cabins listed with their failing
// rules and since when, the compliance API's filters, and the exports. The key's scope (one
// région for an ARS) is applied by the API: the page shows what the API returns.
import "leaflet/dist/leaflet.css";
import "./common/style.css";
import L from "leaflet";
import { $, clear, h, table } from "./common/dom.js";
import { date, labelled, number, setupLanguage, severity, t, venueKind } from "./common/i18n.js";
import { download, getJson, query } from "./common/api.js";
import { setupKeyForm } from "./common/session.js";

const GEOMETRY_PATH = { region: "regions", departement: "departements", commune: "communes" };
const MAX_COMMUNES_DRAWN = 60;
// Share of non-compliant cabins: light to dark (each step keeps its outline visible).
const STEPS = [
  { upTo: 0, color: "#e8f3ec" },
  { upTo: 0.1, color: "#fde0c5" },
  { upTo: 0.25, color: "#f6a96c" },
  { upTo: 0.5, color: "#e0602a" },
  { upTo: 1, color: "#a01c00" },
];

const state = { summary: null, cabins: [], next: null, seq: 0, refused: null };
const outlines = new Map(); // "by:code" -> GeoJSON geometry

let map = null;
let layer = null;

function ensureMap() {
  if (map) return;
  map = L.map("choropleth", { attributionControl: false, keyboard: false, zoomControl: true, zoomSnap: 0.25 }).fitBounds([[41.3, -5.2], [51.1, 9.6]]);
  layer = L.geoJSON(null).addTo(map);
}

function filters() {
  const form = $("#filters");
  const value = (name) => form.elements[name].value.trim();
  return {
    by: value("by"),
    rule: value("rule").toUpperCase(),
    outcome: value("outcome"),
    region: value("region"),
    departement: value("departement").toUpperCase(),
    commune: value("commune").toUpperCase(),
    failing_since_before: value("failing_since_before"),
    compliance: value("compliance"),
  };
}

function common(f) {
  const { rule, outcome, region, departement, commune, failing_since_before } = f;
  return { rule, outcome, region, departement, commune, failing_since_before };
}

function share(group) {
  return group.cabins ? group.non_compliant / group.cabins : null;
}

function percent(value) {
  return value === null || value === undefined ? "—" : `${number(value * 100, 1)} %`;
}

function colorOf(value) {
  if (value === null) return "#ffffff";
  return (STEPS.find((s) => value <= s.upTo) || STEPS[STEPS.length - 1]).color;
}

function num(value) {
  return h("span", {}, number(value));
}

function renderSummary() {
  const summary = state.summary;
  const byLabel = t(`reg.by.${summary.by}`);
  $("#summary-title").textContent = t("reg.summary", { by: byLabel });
  const groups = summary.groups;
  $("#summary-status").textContent = groups.length ? "" : t("reg.empty");
  const columns = [
    { label: byLabel, value: (g) => (g.key ? `${g.name || ""} (${g.key})` : "—") },
    { label: t("reg.col.cabins"), value: (g) => num(g.cabins) },
    { label: t("compliance.compliant"), value: (g) => num(g.compliant) },
    { label: t("compliance.non_compliant"), value: (g) => num(g.non_compliant) },
    { label: t("compliance.incomplete"), value: (g) => num(g.incomplete) },
    { label: t("compliance.none"), value: (g) => num(g.not_evaluated) },
    { label: t("reg.legend"), value: (g) => percent(share(g)) },
  ];
  const label = (g) => (g.total ? t("reg.total") : g.key ? `${g.name || ""} (${g.key})` : "—");
  columns[0].value = label;
  clear($("#summary-table"), table(t("reg.summary", { by: byLabel }), columns, [...groups, { ...summary.total, total: true }]));
  renderChoropleth();
}

async function renderChoropleth() {
  // Leaflet measures its container: wait until the dashboard is shown (after the key check).
  const summary = state.summary;
  while (!$("#choropleth").clientWidth) await new Promise((resolve) => setTimeout(resolve, 50));
  if (summary !== state.summary) return;
  ensureMap();
  map.invalidateSize();
  const { by, groups } = state.summary;
  const caption = $("#choropleth-caption");
  const drawable = groups.filter((g) => g.key);
  layer.clearLayers();
  const byLabel = t(`reg.by.${by}`);
  $("#choropleth").setAttribute("aria-label", t("reg.choropleth", { by: byLabel }));
  const legend = h(
    "ul",
    { class: "legend" },
    STEPS.map((s, i) => h("li", {}, h("span", { class: "swatch", style: `background:${s.color}` }), i === 0 ? "0 %" : `≤ ${number(s.upTo * 100)} %`)),
  );
  clear(caption, h("span", {}, t("reg.choropleth", { by: byLabel })), legend);
  if (by === "commune" && drawable.length > MAX_COMMUNES_DRAWN) {
    caption.append(h("p", {}, t("reg.choropleth.commune")));
    return;
  }
  const shapes = await Promise.all(
    drawable.map(async (g) => {
      const id = `${by}:${g.key}`;
      if (!outlines.has(id)) {
        try {
          const body = await getJson(`/v1/territories/${GEOMETRY_PATH[by]}/${encodeURIComponent(g.key)}${query({ geometry: true })}`);
          outlines.set(id, body.geometry);
        } catch {
          outlines.set(id, null);
        }
      }
      return { group: g, geometry: outlines.get(id) };
    }),
  );
  if (summary !== state.summary) return; // a newer summary came meanwhile
  for (const { group, geometry } of shapes) {
    if (!geometry) continue;
    L.geoJSON(geometry, { style: { color: "#1e1e1e", weight: 1, fillColor: colorOf(share(group)), fillOpacity: 0.85 } })
      .bindTooltip(labelled(group.name || group.key, percent(share(group))))
      .addTo(layer);
  }
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds.pad(0.05));
}

function failingList(cabin) {
  if (!cabin.failing.length) return cabin.unknown_rules.length ? labelled(t("outcome.unknown"), cabin.unknown_rules.join(", ")) : "—";
  return h("ul", {}, cabin.failing.map((v) => h("li", {}, `${v.rule} (${severity(v.severity)})`)));
}

function sinceList(cabin) {
  if (!cabin.failing.length) return "—";
  return h("ul", {}, cabin.failing.map((v) => h("li", {}, labelled(v.rule, v.failing_since ? date(v.failing_since) : "—"))));
}

function renderCabins() {
  $("#cabins-status").textContent = t("reg.cabins.count", { n: state.cabins.length }) + (state.next ? " +" : "");
  const columns = [
    { label: t("reg.col.cabin"), value: (c) => c.reference },
    { label: t("reg.col.venue"), value: (c) => [c.venue_name, venueKind(c.venue_kind)].filter(Boolean).join(" — ") },
    { label: t("reg.col.commune"), value: (c) => `${c.commune_name || ""} (${c.commune_insee || "—"}, ${c.departement_code || "—"}, ${c.region_code || "—"})` },
    { label: t("op.col.status"), value: (c) => (c.compliance_status ? t(`compliance.${c.compliance_status}`) : t("compliance.none")) },
    { label: t("reg.col.rules"), value: failingList },
    { label: t("reg.col.since"), value: sinceList },
  ];
  clear($("#cabins-table"), state.cabins.length ? table(t("reg.cabins"), columns, state.cabins) : h("p", {}, t("reg.empty")));
  $("#cabins-more").hidden = !state.next;
}

function fetchSummary(f) {
  return getJson(`/v1/compliance/summary${query({ by: f.by, ...common(f) })}`, { auth: true });
}

function fetchCabins(f) {
  return getJson(`/v1/compliance/cabins${query({ ...common(f), compliance: f.compliance, limit: 100 })}`, { auth: true });
}

async function loadSummary(f) {
  $("#summary-status").textContent = t("loading");
  state.summary = await fetchSummary(f);
  renderSummary();
  return state.summary;
}

async function loadCabins(f) {
  $("#cabins-status").textContent = t("loading");
  const page = await fetchCabins(f);
  state.cabins = page.items;
  state.next = page.next;
  renderCabins();
}

function refusal(error) {
  // The API's words: each refused field with its reason, else the problem's detail.
  const reasons = (error.errors || []).map((e) => labelled(e.field, e.reason));
  return t("error", { detail: reasons.length ? reasons.join(" ; ") : error.message });
}

function showRefused(error) {
  // A refused filter answers nothing: the previous filter's figures and cabins go, so they
  // cannot be read as this one's, and both parts say why.
  state.refused = error;
  state.summary = null;
  state.cabins = [];
  state.next = null;
  clear($("#summary-table"));
  clear($("#choropleth-caption"));
  if (layer) layer.clearLayers();
  clear($("#cabins-table"));
  $("#cabins-more").hidden = true;
  $("#summary-status").textContent = refusal(error);
  $("#cabins-status").textContent = refusal(error);
}

async function apply() {
  const f = filters();
  const seq = ++state.seq;
  $("#summary-status").textContent = t("loading");
  $("#cabins-status").textContent = t("loading");
  const [summary, cabins] = await Promise.allSettled([fetchSummary(f), fetchCabins(f)]);
  if (seq !== state.seq) return; // a newer filter was applied meanwhile
  const failed = [summary, cabins].find((result) => result.status === "rejected");
  if (failed) {
    showRefused(failed.reason);
    return;
  }
  state.refused = null;
  state.summary = summary.value;
  renderSummary();
  state.cabins = cabins.value.items;
  state.next = cabins.value.next;
  renderCabins();
}

$("#filters").addEventListener("submit", (event) => {
  event.preventDefault();
  apply();
});

$("#cabins-more").addEventListener("click", async () => {
  const next = new URL(state.next, location.href);
  try {
    const page = await getJson(next.pathname + next.search, { auth: true });
    state.cabins = state.cabins.concat(page.items);
    state.next = page.next;
    renderCabins();
  } catch (error) {
    $("#cabins-status").textContent = refusal(error);
  }
});

const EXTENSIONS = { csv: "csv", geojson: "geojson", xlsx: "xlsx" };
const FORMAT_NAMES = { csv: "CSV", geojson: "GeoJSON", xlsx: "XLSX" }; // as the buttons write them
for (const button of document.querySelectorAll("button.export")) {
  button.addEventListener("click", async () => {
    const format = button.dataset.format;
    const f = filters();
    const status = $("#export-status");
    status.textContent = t("loading");
    try {
      await download(`/v1/compliance/export.${EXTENSIONS[format]}${query(common(f))}`, `cabines-conformite.${EXTENSIONS[format]}`, { auth: true });
      status.textContent = t("reg.export.done", { format: FORMAT_NAMES[format] });
    } catch (error) {
      status.textContent = t("error", { detail: error.message });
    }
  });
}

setupLanguage(() => {
  if (state.refused) return showRefused(state.refused);
  if (state.summary) renderSummary();
  renderCabins();
});

setupKeyForm({
  panel: $("#dashboard"),
  probe: () => loadSummary(filters()),
  onReady: () => loadCabins(filters()),
});
