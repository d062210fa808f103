// API access: bearer key from sessionStorage, a dialog on 401, errors in plain words.

import { $ } from "./ui.js";

const KEY_STORAGE = "voxserve.apiKey";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** The API key this tab keeps (session storage), or "" when none. */
export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** The API's own words for a failed response: `error.message`, else the HTTP status. */
async function errorFrom(response) {
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(message, response.status);
}

// Concurrent 401s share one dialog.
let pendingKeyPrompt = null;

function askForKey(reason) {
  if (pendingKeyPrompt) return pendingKeyPrompt;
  const dialog = $("#auth-dialog");
  const input = $("#api-key");
  $("#auth-reason").textContent = reason || "This server requires an API key.";
  input.value = "";
  pendingKeyPrompt = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      pendingKeyPrompt = null;
      const ok = dialog.returnValue === "ok" && input.value.trim() !== "";
      if (ok) {
        sessionStorage.setItem(KEY_STORAGE, input.value.trim());
        $("#forget-key").hidden = false;
        window.dispatchEvent(new Event("voxserve:key"));
      }
      resolve(ok);
    }, { once: true });
    dialog.showModal();
    input.focus();
  });
  return pendingKeyPrompt;
}

/**
 * fetch() against the API with the bearer key. On 401 asks for a key and retries (until
 * the user cancels). Throws ApiError with the server's message for any other failure.
 */
export async function api(path, options = {}) {
  for (;;) {
    const response = await fetch(path, {
      ...options,
      headers: { ...(options.headers || {}), ...authHeaders() },
    });
    if (response.status === 401) {
      const error = await errorFrom(response);
      if (await askForKey(error.message)) continue;
      throw new ApiError("An API key is needed to use this server.", 401);
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }
}

/** api() for a JSON answer. */
export async function apiJson(path, options) {
  return (await api(path, options)).json();
}

/**
 * A URL the page can hand to <audio>/<track>: plain without auth, a blob URL with a key
 * (fetched with the header). Hand blob URLs back with releaseMediaUrl when done with them.
 */
export async function mediaUrl(path) {
  if (!apiKey()) return path;
  const response = await api(path);
  return URL.createObjectURL(await response.blob());
}

/** Free a URL from mediaUrl (a no-op for plain paths). */
export function releaseMediaUrl(url) {
  if (url && url.startsWith("blob:")) URL.revokeObjectURL(url);
}

/**
 * The header's "Forget API key" button: shown while this tab keeps a key. Forgetting
 * announces "voxserve:forget" so the pages stop what runs with the key (polling, players)
 * and drop what they fetched with it.
 */
export function initForgetKey() {
  $("#forget-key").hidden = !apiKey();
  $("#forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    $("#forget-key").hidden = true;
    window.dispatchEvent(new Event("voxserve:forget"));
  });
}
