// The operators' page: the caller's cabins, what each must fix (the failing rules with their
// evidence, from GET /v1/cabins/{id}/compliance), and a CSV import whose report is shown row
// by row (POST /v1/cabins/import; a rejected atomic import is a 422 listing every bad row).
import "./common/style.css";
import { $, clear, h, table } from "./common/dom.js";
import { date, known, setupLanguage, severity, t, venueKind } from "./common/i18n.js";
import { getJson, postBody, query } from "./common/api.js";
import { setupKeyForm } from "./common/session.js";

const state = { cabins: [], next: null, report: null, fix: null, opener: null };

function statusText(status) {
  return known(`status.${status}`) ? t(`status.${status}`) : status;
}

function renderCabins() {
  const status = $("#cabins-status");
  status.textContent = state.cabins.length ? t("op.count", { n: `${state.cabins.length}${state.next ? "+" : ""}` }) : t("op.none");
  const columns = [
    { label: t("op.col.cabin"), value: (c) => c.reference },
    { label: t("op.col.ref"), value: (c) => c.operator_reference },
    { label: t("op.col.venue"), value: (c) => [c.venue?.name, venueKind(c.venue?.kind)].filter(Boolean).join(" — ") },
    { label: t("op.col.commune"), value: (c) => `${c.location?.address?.commune_name || ""} (${c.location?.commune_insee || c.location?.declared_insee || "—"})` },
    { label: t("op.col.status"), value: (c) => statusText(c.lifecycle?.status) },
    {
      label: t("op.col.fix"),
      value: (c) => h("button", { type: "button", class: "secondary", "aria-controls": "fix", onclick: (event) => showFix(c, event.currentTarget) }, t("op.fix", { ref: c.reference })),
    },
  ];
  clear($("#cabins-table"), state.cabins.length ? table(t("op.cabins"), columns, state.cabins) : null);
  $("#cabins-more").hidden = !state.next;
}

async function loadCabins(url = `/v1/cabins${query({ limit: 50 })}`) {
  const page = await getJson(url, { auth: true });
  state.cabins = url.includes("after=") ? state.cabins.concat(page.items) : page.items;
  state.next = page.next;
  renderCabins();
  return page;
}

function evidence(value) {
  // The rule's reason in words first; the evidence as data behind a disclosure, for whoever
  // needs the figures (an operator is not asked to read JSON).
  const reason = value && typeof value.reason === "string" ? value.reason : null;
  return [
    reason ? h("p", { class: "reason" }, reason) : null,
    h("details", { open: !reason }, h("summary", {}, t("op.fix.details")), h("pre", { class: "evidence" }, JSON.stringify(value, null, 2))),
  ];
}


function renderFix() {
  const panel = $("#fix");
  const { cabin, compliance } = state.fix;
  const failing = compliance.verdicts.filter((v) => v.outcome === "fail" || v.outcome === "unknown");
  clear(
    panel,
    h(
      "div",
      { class: "card-head" },
      h("h3", { id: "fix-title", tabindex: "-1" }, t("op.fix.title", { ref: cabin.reference })),
      h("button", { type: "button", class: "secondary", onclick: closeFix }, t("close")),
    ),
    h("p", {}, compliance.compliance_status ? t(`compliance.${compliance.compliance_status}`) : t("compliance.none")),
    failing.length
      ? h(
          "ul",
          {},
          failing.map((v) =>
            h(
              "li",
              {},
              h("strong", {}, t("op.fix.rule", { code: v.rule_code, severity: severity(v.severity), outcome: t(`outcome.${v.outcome}`) })),
              v.title ? ` — ${v.title}` : "",
              v.failing_since ? h("span", { class: "hint" }, ` (${t("reg.col.since")} ${date(v.failing_since)})`) : "",
              evidence(v.evidence),
            ),
          ),
        )
      : h("p", {}, t("op.fix.none")),
  );
  panel.hidden = false;
}

async function showFix(cabin, opener) {
  state.opener = opener;
  try {
    const compliance = await getJson(`/v1/cabins/${cabin.id}/compliance`, { auth: true });
    state.fix = { cabin, compliance };
    renderFix();
    $("#fix-title").focus();
  } catch (error) {
    $("#cabins-status").textContent = t("error", { detail: error.message });
  }
}

function closeFix() {
  $("#fix").hidden = true;
  state.fix = null;
  state.opener?.focus();
}

$("#fix").addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeFix();
});

$("#cabins-more").addEventListener("click", () => {
  const next = new URL(state.next, location.href);
  loadCabins(next.pathname + next.search);
});

// --- import --------------------------------------------------------------------------------

function renderReport() {
  const box = $("#import-report");
  const report = state.report;
  if (!report) return clear(box);
  const errors = report.errors || [];
  const total = report.rows_total ?? null;
  const bad = report.rows_invalid ?? new Set(errors.map((e) => e.row)).size;
  const columns = [
    { label: t("op.import.col.row"), value: (e) => String(e.row ?? "—") },
    { label: t("op.import.col.field"), value: (e) => e.field },
    { label: t("op.import.col.reason"), value: (e) => e.reason },
  ];
  clear(
    box,
    h("h3", { id: "report-title", tabindex: "-1" }, t("op.import.report")),
    report.detail ? h("p", { class: errors.length ? "error" : "" }, report.detail) : null,
    total !== null ? h("p", {}, t("op.import.summary", { total, ok: total - bad, bad })) : null,
    errors.length ? h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": "report-title" }, table(t("op.import.errors"), columns, errors)) : h("p", {}, t("op.import.ok")),
  );
}

async function poll(job) {
  let current = job;
  while (current.state === "queued" || current.state === "running") {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    current = await getJson(`/v1/imports/${current.id}`, { auth: true });
  }
  return current;
}

$("#import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const file = form.elements.file.files[0];
  const status = $("#import-status");
  if (!file) {
    state.report = null; // the previous file's report is not this (absent) file's
    renderReport();
    status.textContent = t("op.import.nofile");
    form.elements.file.focus();
    return;
  }
  status.textContent = t("op.import.sending");
  const params = { mode: form.elements.mode.value, dry_run: form.elements.dry_run.checked };
  try {
    const job = await postBody(`/v1/cabins/import${query(params)}`, file, "text/csv", { auth: true });
    state.report = await poll(job);
    status.textContent = "";
    if (!state.report.dry_run) loadCabins();
  } catch (error) {
    status.textContent = "";
    state.report = { detail: error.message, errors: error.errors, rows_total: null };
  }
  renderReport();
  $("#report-title").focus();
});

setupLanguage(() => {
  renderCabins();
  if (state.fix) renderFix();
  renderReport();
});

setupKeyForm({ panel: $("#workspace"), probe: () => loadCabins(), onReady: () => {} });
