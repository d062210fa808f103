// Catalog: the models and voices this server offers, in the pages' select boxes.

import { apiJson, mediaUrl, releaseMediaUrl } from "./api.js";
import { $, setStatus } from "./ui.js";

const catalog = { models: [], voices: [] };
let wired = false;

function fillVoices(select, engine) {
  const previous = select.value;
  select.replaceChildren();
  for (const voice of catalog.voices) {
    if (engine && voice.engine !== engine) continue;
    const label = voice.description ? `${voice.id} – ${voice.description}` : voice.id;
    // Without an engine filter (the projects page) each voice names its engine.
    const option = new Option(engine ? label : `${label} (${voice.engine})`, voice.id);
    option.dataset.sampleRate = voice.sample_rate;
    option.dataset.engine = voice.engine;
    select.append(option);
  }
  if ([...select.options].some((o) => o.value === previous)) select.value = previous;
}

/** Under the playground's voice: its names, OpenAI names, language and model version. */
function showVoiceDetails() {
  const voice = catalog.voices.find((v) => v.id === $("#voice").value);
  const parts = [];
  if (voice) {
    if (voice.language) parts.push(voice.language);
    if (voice.aliases?.length) parts.push(`also: ${voice.aliases.join(", ")}`);
    if (voice.openai_voices?.length) parts.push(`OpenAI names: ${voice.openai_voices.join(", ")}`);
    if (voice.version) {
      const others = (voice.versions || []).filter((v) => v !== voice.version);
      parts.push(`version ${voice.version}` + (others.length ? ` (also ${others.join(", ")})` : ""));
    }
  }
  $("#voice-details").textContent = parts.join(" · ");
  $("#voice-preview").disabled = !voice?.preview_url;
}

let previewAudio = null;

/** Play the selected voice's preview clip (synthesized once per version on the server). */
async function playPreview() {
  const voice = catalog.voices.find((v) => v.id === $("#voice").value);
  if (!voice?.preview_url) return;
  const button = $("#voice-preview");
  button.disabled = true;
  try {
    if (previewAudio) {
      previewAudio.pause();
      releaseMediaUrl(previewAudio.src);
    }
    const url = await mediaUrl(voice.preview_url);
    previewAudio = new Audio(url);
    previewAudio.dataset.voice = voice.id;
    await previewAudio.play();
    setStatus($("#speak-status"), `Playing a preview of ${voice.id}.`);
  } catch (error) {
    setStatus($("#speak-status"), `Could not play the preview: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
}

function showFailure(message) {
  setStatus($("#speak-status"), message, true);
  setStatus($("#upload-status"), message, true);
  $("#catalog-retry").hidden = false;
}

/**
 * Fill the model and voice lists of both pages: the playground's voices follow its model;
 * the projects page offers every voice (a project is sent with its voice's engine). A
 * failure (e.g. the key dialog was cancelled) is shown on both pages with a retry button,
 * and the lists are loaded again when a key is entered.
 */
export async function loadCatalog() {
  if (!wired) {
    wired = true;
    $("#catalog-retry").addEventListener("click", () => loadCatalog());
    window.addEventListener("voxserve:key", () => {
      if (!catalog.voices.length) loadCatalog();
    });
    $("#model").addEventListener("change", () => {
      fillVoices($("#voice"), $("#model").selectedOptions[0]?.dataset.engine);
      showVoiceDetails();
    });
    $("#voice").addEventListener("change", showVoiceDetails);
    $("#voice-preview").addEventListener("click", playPreview);
  }
  try {
    const [models, voices] = await Promise.all([apiJson("/v1/models"), apiJson("/v1/voices")]);
    catalog.models = models.data;
    catalog.voices = voices.data;
  } catch (error) {
    showFailure(`Could not load models and voices: ${error.message}`);
    return;
  }
  $("#catalog-retry").hidden = true;
  for (const id of ["#speak-status", "#upload-status"]) {
    if ($(id).classList.contains("error")) setStatus($(id), id === "#speak-status" ? "Ready." : "");
  }
  const modelSelect = $("#model");
  modelSelect.replaceChildren(
    ...catalog.models.map((m) => {
      const label = m.id === m.engine ? m.id : `${m.id} (${m.engine})`;
      const option = new Option(label, m.id);
      option.dataset.engine = m.engine;
      return option;
    }));
  // Prefer a model named after its engine (e.g. "piper") over aliases such as "tts-1".
  const own = catalog.models.find((m) => m.id === m.engine);
  if (own) modelSelect.value = own.id;
  const engine = modelSelect.selectedOptions[0]?.dataset.engine;
  fillVoices($("#voice"), engine);
  showVoiceDetails();
  const projectVoice = $("#project-voice");
  const chosen = projectVoice.value;
  fillVoices(projectVoice, null);
  if (!chosen) {  // start with the playground's default voice
    const first = [...projectVoice.options].find((o) => o.dataset.engine === engine);
    if (first) projectVoice.value = first.value;
  }
}
