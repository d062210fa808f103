// Catalog: the models and voices this server offers, in the pages' select boxes.

import { apiJson } from "./api.js";
import { $, setStatus } from "./ui.js";

const catalog = { models: [], voices: [] };

function fillVoices(select, engine) {
  const previous = select.value;
  select.replaceChildren();
  for (const voice of catalog.voices) {
    if (engine && voice.engine !== engine) continue;
    const option = new Option(
      voice.description ? `${voice.id} – ${voice.description}` : voice.id, voice.id);
    option.dataset.sampleRate = voice.sample_rate;
    select.append(option);
  }
  if ([...select.options].some((o) => o.value === previous)) select.value = previous;
}

/** Fill the model and voice lists of both pages; the playground's voices follow its model. */
export async function loadCatalog() {
  try {
    const [models, voices] = await Promise.all([apiJson("/v1/models"), apiJson("/v1/voices")]);
    catalog.models = models.data;
    catalog.voices = voices.data;
  } catch (error) {
    setStatus($("#speak-status"), `Could not load models and voices: ${error.message}`, true);
    return;
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
  const engine = () => modelSelect.selectedOptions[0]?.dataset.engine;
  fillVoices($("#voice"), engine());
  modelSelect.addEventListener("change", () => fillVoices($("#voice"), engine()));
  fillVoices($("#project-voice"), engine());
}
