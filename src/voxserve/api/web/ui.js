// Small page helpers shared by the modules: element lookup, status lines, durations, saving.

export const $ = (selector, root = document) => root.querySelector(selector);

/** Show a message in a status line, marked as an error or not. */
export function setStatus(element, message, isError = false) {
  element.textContent = message;
  element.classList.toggle("error", isError);
}

/**
 * A duration for people: "2.90 s", "12.5 s", "3 min 5 s", "1 h 2 min"; "–" when unknown.
 * Rounded first, so 59.96 s is "1 min 0 s" (not "60.0 s") and 119.6 s "2 min 0 s".
 */
export function formatSeconds(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  if (seconds < 10 && Number(seconds.toFixed(2)) < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60 && Number(seconds.toFixed(1)) < 60) return `${seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  if (total < 3600) return `${Math.floor(total / 60)} min ${total % 60} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A file size for people: "80 bytes", "1.5 KiB", "2.3 MiB". */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} byte${bytes === 1 ? "" : "s"}`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Save a Blob under a file name (the browser's download). */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
