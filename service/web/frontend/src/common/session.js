// The sign-in of the regulator and operator pages: the API key is asked once per tab, kept in
// sessionStorage only, checked by a first call (`probe`); a refused key is forgotten at once.
import { $ } from "./dom.js";
import { apiKey } from "./api.js";
import { t } from "./i18n.js";

export function setupKeyForm({ panel, probe, onReady }) {
  const form = $("#key-form");
  const error = $("#key-error");
  const logoutBar = $("#logout-bar");

  function show(signedIn) {
    form.hidden = signedIn;
    logoutBar.hidden = !signedIn;
    panel.hidden = !signedIn;
  }

  async function start() {
    error.textContent = "";
    try {
      const first = await probe();
      show(true);
      await onReady(first);
    } catch (problem) {
      if (problem.status === 401 || problem.status === 403) {
        apiKey.clear();
        show(false);
        // The API's own detail is in English: the page says it in its language.
        error.textContent = t(problem.status === 401 ? "key.invalid" : "key.forbidden");
        $("#api-key").focus();
      } else {
        show(true);
        error.textContent = t("error", { detail: problem.message });
      }
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("#api-key").value.trim();
    if (!key) return;
    apiKey.set(key);
    $("#api-key").value = "";
    start();
  });
  $("#logout").addEventListener("click", () => {
    apiKey.clear();
    show(false);
    $("#api-key").focus();
  });

  show(false);
  if (apiKey.get()) start();
}
