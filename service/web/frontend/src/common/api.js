// Calls to the registry's API: JSON in and out, problem+json errors turned into ApiError,
// the API key (regulator and operator pages) kept in sessionStorage only.
const KEY_STORAGE = "cabin-registry.api-key";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  get errors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_STORAGE),
  set: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    search.set(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function send(path, { method = "GET", body, contentType, auth = false, accept = "application/json" } = {}) {
  const headers = { Accept: accept };
  if (auth) {
    const key = apiKey.get();
    if (key) headers.Authorization = `Bearer ${key}`;
  }
  if (contentType) headers["Content-Type"] = contentType;
  const response = await fetch(path, { method, body, headers });
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    throw new ApiError(response.status, problem);
  }
  return response;
}

export async function getJson(path, options = {}) {
  const response = await send(path, options);
  return response.status === 204 ? null : response.json();
}

export async function postBody(path, body, contentType, options = {}) {
  const response = await send(path, { ...options, method: "POST", body, contentType });
  return response.status === 204 ? null : response.json();
}

/** Downloads a protected file (the key goes in a header, so a plain link cannot do it). */
export async function download(path, filename, options = {}) {
  const response = await send(path, { ...options, accept: "*/*" });
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
