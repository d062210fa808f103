// voxserve web UI: a playground that plays speech while it streams, and document projects.
// Plain ES modules, no dependencies, no build step; talks only to this server's /v1 API.
// This entry wires the modules together and routes between the two pages:
//   api.js         requests with the API key (asked for on 401), errors in the API's words
//   ui.js          page helpers: element lookup, status lines, durations, saving files
//   catalog.js     models and voices in the select boxes
//   playground.js  the speech playground, with player.js (streaming playback, waveform)
//   typeandhear.js the playground's "type and hear" mode (the streaming WebSocket)
//   projects.js    document projects, with chapters.js (chapter player, subtitles, downloads)
//                  and words.js (the word being spoken, marked in the cue list)

import { initForgetKey } from "./api.js";
import { loadCatalog } from "./catalog.js";
import { playground } from "./playground.js";
import { projects } from "./projects.js";
import { typeAndHear } from "./typeandhear.js";
import { $ } from "./ui.js";

/** Show the page the hash names (#playground, #projects), the playground by default. */
function showPage() {
  const name = location.hash === "#projects" ? "projects" : "playground";
  for (const page of document.querySelectorAll(".page")) {
    page.hidden = page.dataset.page !== name;
  }
  for (const link of document.querySelectorAll("[data-page-link]")) {
    if (link.dataset.pageLink === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${name === "projects" ? "Projects" : "Playground"} · voxserve`;
  if (name === "projects") projects.start();
}

function main() {
  initForgetKey();
  playground.init();
  typeAndHear.init();
  projects.init();
  window.addEventListener("hashchange", () => {
    showPage();
    // Move focus to the new page's heading so screen readers announce the change.
    const heading = $(".page:not([hidden]) h2");
    heading.tabIndex = -1;
    heading.focus();
  });
  showPage();
  loadCatalog();
}

main();
