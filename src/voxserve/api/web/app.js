// voxserve web UI: a playground that plays speech while it streams, and document projects.
// Plain ES module, no dependencies; talks only to this server's /v1 API.

const $ = (selector, root = document) => root.querySelector(selector);
const KEY_STORAGE = "voxserve.apiKey";

// ---------------------------------------------------------------------------------------
// API access: bearer key from sessionStorage, a dialog on 401, errors in plain words.
// ---------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function apiKey() {
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
async function api(path, options = {}) {
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

async function apiJson(path, options) {
  return (await api(path, options)).json();
}

/** Save a Blob under a file name (the browser's download). */
function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A URL the page can hand to <audio>/<track>: plain without auth, a blob URL with a key. */
async function mediaUrl(path) {
  if (!apiKey()) return path;
  const response = await api(path);
  return URL.createObjectURL(await response.blob());
}

function formatSeconds(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  if (minutes < 60) return `${minutes} min ${rest} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

// ---------------------------------------------------------------------------------------
// Pages (hash routing: #playground, #projects)
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Catalog: models and voices
// ---------------------------------------------------------------------------------------

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

async function loadCatalog() {
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

function setStatus(element, message, isError = false) {
  element.textContent = message;
  element.classList.toggle("error", isError);
}

// ---------------------------------------------------------------------------------------
// Playground: streaming playback of 16-bit PCM with Web Audio
// ---------------------------------------------------------------------------------------

/**
 * Plays raw 16-bit little-endian mono PCM as it arrives. Each network chunk becomes an
 * AudioBuffer at the stream's sample rate (Web Audio resamples to the device rate) and is
 * scheduled right after the previous one, so chunks join without gaps; if the network
 * falls behind, playback resumes a little after "now" (an audible pause, not a glitch).
 */
class PcmStreamPlayer {
  constructor(context, sampleRate) {
    this.context = context;
    this.sampleRate = sampleRate;
    this.nextStart = 0;          // context time where the next chunk starts
    this.scheduled = [];         // [{start, duration}] in context time
    this.sources = new Set();
    this.leftover = null;        // an odd trailing byte from the previous network chunk
    this.chunks = [];            // Int16Array pieces, for the WAV download and the waveform
    this.samples = 0;
  }

  /** Queue one network chunk (a Uint8Array of any length). */
  push(bytes) {
    if (this.leftover) {  // re-join a 16-bit sample split across two chunks
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.leftover[0];
      joined.set(bytes, 1);
      bytes = joined;
      this.leftover = null;
    }
    if (bytes.length % 2) {
      this.leftover = bytes.slice(-1);
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    if (!bytes.length) return 0;
    // Copy into an aligned buffer: Int16Array needs an even byte offset. PCM is little
    // endian, like every platform browsers run on.
    const pcm = new Int16Array(bytes.slice().buffer);
    this.chunks.push(pcm);
    this.samples += pcm.length;
    const floats = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) floats[i] = pcm[i] / 32768;
    const buffer = this.context.createBuffer(1, floats.length, this.sampleRate);
    buffer.copyToChannel(floats, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    // 50 ms of lead so the first chunk (or one after a stall) is not cut at its start.
    const start = Math.max(this.nextStart, this.context.currentTime + 0.05);
    source.start(start);
    this.nextStart = start + buffer.duration;
    this.scheduled.push({ start, duration: buffer.duration });
    this.sources.add(source);
    source.addEventListener("ended", () => this.sources.delete(source));
    return buffer.duration;
  }

  /** Seconds of audio actually played so far (by the audio clock). */
  playedSeconds() {
    const now = this.context.currentTime;
    let played = 0;
    for (const { start, duration } of this.scheduled) {
      if (now <= start) break;
      played += Math.min(now - start, duration);
    }
    return played;
  }

  receivedSeconds() {
    return this.samples / this.sampleRate;
  }

  /** True once everything scheduled has played. */
  drained() {
    return this.context.currentTime >= this.nextStart;
  }

  stop() {
    for (const source of this.sources) {
      try { source.stop(); } catch { /* already stopped */ }
    }
    this.sources.clear();
  }

  /** The received audio as a WAV file (44-byte header + the PCM). */
  toWav() {
    const dataBytes = this.samples * 2;
    const header = new DataView(new ArrayBuffer(44));
    const text = (offset, value) => {
      for (let i = 0; i < value.length; i++) header.setUint8(offset + i, value.charCodeAt(i));
    };
    text(0, "RIFF");
    header.setUint32(4, 36 + dataBytes, true);
    text(8, "WAVE");
    text(12, "fmt ");
    header.setUint32(16, 16, true);        // fmt chunk size
    header.setUint16(20, 1, true);         // PCM
    header.setUint16(22, 1, true);         // mono
    header.setUint32(24, this.sampleRate, true);
    header.setUint32(28, this.sampleRate * 2, true);  // byte rate
    header.setUint16(32, 2, true);         // block align
    header.setUint16(34, 16, true);        // bits per sample
    text(36, "data");
    header.setUint32(40, dataBytes, true);
    return new Blob([header, ...this.chunks], { type: "audio/wav" });
  }

  /** The raw PCM (for the "pcm" download format). */
  toPcm() {
    return new Blob(this.chunks, { type: "application/octet-stream" });
  }
}

/** Draws the received waveform (min/max per pixel column) and the play head. */
function drawWaveform(canvas, player) {
  const g = canvas.getContext("2d");
  const { width, height } = canvas;
  const style = getComputedStyle(canvas);
  g.clearRect(0, 0, width, height);
  if (!player || !player.samples) return;
  // Scale: at least 5 s across, or everything received so far.
  const total = Math.max(player.samples, player.sampleRate * 5);
  const perColumn = total / width;
  const playedColumns = (player.playedSeconds() * player.sampleRate) / perColumn;
  const mid = height / 2;
  let column = 0;
  let count = 0;
  let low = 0;
  let high = 0;
  const flush = () => {
    g.fillStyle = column < playedColumns
      ? style.getPropertyValue("--wave-played") : style.getPropertyValue("--wave");
    const top = mid - (high / 32768) * mid;
    const bottom = mid - (low / 32768) * mid;
    g.fillRect(column, top, 1, Math.max(1, bottom - top));
  };
  for (const chunk of player.chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const value = chunk[i];
      if (count === 0) { low = value; high = value; }
      else if (value < low) low = value;
      else if (value > high) high = value;
      if (++count >= perColumn) {
        flush();
        column++;
        count = 0;
      }
    }
  }
  if (count) flush();
}

const playground = {
  context: null,
  player: null,
  abort: null,
  frame: 0,

  init() {
    const speed = $("#speed");
    speed.addEventListener("input", () => {
      $("#speed-value").textContent = `${Number(speed.value).toFixed(2)}×`;
    });
    $("#speak-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.speak();
    });
    $("#stop").addEventListener("click", () => this.stop("Stopped."));
    $("#download").addEventListener("click", () => this.download());
  },

  request(format) {
    return {
      input: $("#text").value,
      model: $("#model").value || undefined,
      voice: $("#voice").value || undefined,
      speed: Number($("#speed").value),
      response_format: format,
    };
  },

  async speak() {
    this.stop();
    const status = $("#speak-status");
    const view = $("#player");
    // An AudioContext may only start after a user gesture: this runs from the click.
    this.context ??= new AudioContext();
    await this.context.resume();
    const abort = new AbortController();
    this.abort = abort;
    $("#stop").disabled = false;
    $("#download").disabled = true;
    $("#speak").disabled = true;
    for (const id of ["m-ttfa", "m-audio", "m-wall", "m-rtf"]) $(`#${id}`).textContent = "–";
    view.dataset.state = "requesting";
    view.dataset.playedSeconds = "0";
    view.dataset.receivedSeconds = "0";
    setStatus(status, "Synthesizing…");
    const t0 = performance.now();
    let player = null;
    try {
      const response = await api("/v1/audio/speech", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(this.request("pcm")),
        signal: abort.signal,
      });
      const sampleRate = Number(response.headers.get("X-Voxserve-Sample-Rate"))
        || Number($("#voice").selectedOptions[0]?.dataset.sampleRate) || 22050;
      player = new PcmStreamPlayer(this.context, sampleRate);
      this.player = player;
      this.animate();
      const reader = response.body.getReader();
      let first = true;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (player.push(value) > 0 && first) {
          first = false;
          $("#m-ttfa").textContent = formatSeconds((performance.now() - t0) / 1000);
          view.dataset.state = "playing";
          setStatus(status, "Playing while streaming…");
        }
        $("#m-audio").textContent = formatSeconds(player.receivedSeconds());
      }
      const wall = (performance.now() - t0) / 1000;
      const audio = player.receivedSeconds();
      $("#m-wall").textContent = formatSeconds(wall);
      $("#m-rtf").textContent = `${(audio / wall).toFixed(1)}× real time`;
      view.dataset.receivedSeconds = audio.toFixed(3);
      if (!player.samples) throw new ApiError("The server sent no audio.", 0);
      $("#download").disabled = false;
      view.dataset.state = "streamed";
      setStatus(status, `Received ${formatSeconds(audio)} of audio; playing.`);
    } catch (error) {
      if (abort.signal.aborted) return;
      view.dataset.state = "error";
      setStatus(status, error.message, true);
      $("#stop").disabled = true;
    } finally {
      $("#speak").disabled = false;
    }
  },

  // Update the played time, progress bar and waveform once per frame while audio plays.
  animate() {
    cancelAnimationFrame(this.frame);
    const view = $("#player");
    const tick = () => {
      const player = this.player;
      if (!player) return;
      const played = player.playedSeconds();
      const received = player.receivedSeconds();
      view.dataset.playedSeconds = played.toFixed(3);
      const bar = $("#play-progress");
      bar.max = Math.max(received, 0.001);
      bar.value = played;
      drawWaveform($("#waveform"), player);
      if (view.dataset.state === "streamed" && player.drained()) {
        view.dataset.state = "done";
        $("#stop").disabled = true;
        setStatus($("#speak-status"), `Done: played ${formatSeconds(played)}.`);
        return;
      }
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  },

  stop(message) {
    if (this.abort) this.abort.abort();
    this.abort = null;
    if (this.player) this.player.stop();
    cancelAnimationFrame(this.frame);
    $("#stop").disabled = true;
    if (message) {
      $("#player").dataset.state = "stopped";
      setStatus($("#speak-status"), message);
      if (this.player && this.player.samples) $("#download").disabled = false;
    }
  },

  // WAV and PCM come from what was already received; other formats are a second request.
  async download() {
    const format = $("#format").value;
    const status = $("#speak-status");
    try {
      if (this.player && (format === "wav" || format === "pcm")) {
        saveBlob(format === "wav" ? this.player.toWav() : this.player.toPcm(), `speech.${format}`);
        return;
      }
      setStatus(status, `Preparing ${format.toUpperCase()}…`);
      const response = await api("/v1/audio/speech", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(this.request(format)),
      });
      const extension = { opus: "ogg", aac: "aac" }[format] || format;
      saveBlob(await response.blob(), `speech.${extension}`);
      setStatus(status, `Downloaded speech.${extension}.`);
    } catch (error) {
      setStatus(status, error.message, true);
    }
  },
};

// ---------------------------------------------------------------------------------------
// Projects: upload, live progress (SSE, or polling when a key is needed), listen, download
// ---------------------------------------------------------------------------------------

const FINISHED = new Set(["completed", "failed", "canceled"]);

const projects = {
  started: false,
  watchers: new Map(),   // project id -> function that stops watching
  items: new Map(),      // project id -> <li>

  init() {
    const form = $("#upload-form");
    const input = $("#file");
    const zone = $("#dropzone");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.upload();
    });
    input.addEventListener("change", () => this.showChosen());
    // Drag and drop onto the zone fills the file input (keyboard users use the input).
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        zone.classList.add("over");
      });
    }
    for (const type of ["dragleave", "drop"]) {
      zone.addEventListener(type, () => zone.classList.remove("over"));
    }
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      if (event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        this.showChosen();
      }
    });
  },

  showChosen() {
    const file = $("#file").files[0];
    $("#dropzone span").textContent = file
      ? `Chosen: ${file.name} (${Math.ceil(file.size / 1024)} KiB)`
      : "Drop a document here, or choose a file";
  },

  async start() {
    if (this.started) return;
    this.started = true;
    await this.refresh();
  },

  async refresh() {
    try {
      const list = await apiJson("/v1/projects?limit=50");
      for (const project of list.data) this.render(project);
      $("#projects-empty").hidden = list.data.length > 0;
      // The list has no progress: fetch it (and follow the unfinished ones).
      for (const project of list.data) this.follow(project);
    } catch (error) {
      this.started = false;
      setStatus($("#upload-status"), `Could not list projects: ${error.message}`, true);
    }
  },

  async upload() {
    const status = $("#upload-status");
    const file = $("#file").files[0];
    if (!file) {
      setStatus(status, "Choose a document first.", true);
      $("#file").focus();
      return;
    }
    const form = new FormData();
    form.append("file", file);
    if ($("#project-voice").value) form.append("voice", $("#project-voice").value);
    form.append("response_format", $("#project-format").value);
    $("#upload").disabled = true;
    setStatus(status, `Uploading ${file.name}…`);
    try {
      const project = await apiJson("/v1/projects", { method: "POST", body: form });
      setStatus(status, `Converting “${project.name}”.`);
      $("#projects-empty").hidden = true;
      this.render(project, true);
      this.follow(project);
    } catch (error) {
      setStatus(status, error.message, true);
    } finally {
      $("#upload").disabled = false;
    }
  },

  /** Get the full status once, then follow it live until it is finished. */
  async follow(project) {
    try {
      project = await apiJson(`/v1/projects/${project.id}`);
    } catch (error) {
      this.showError(project.id, error.message);
      return;
    }
    this.render(project);
    if (FINISHED.has(project.state)) {
      if (project.state === "completed") this.showListen(project);
      return;
    }
    if (this.watchers.has(project.id)) return;
    // EventSource cannot send an Authorization header: with a key, poll instead.
    if (apiKey() || !("EventSource" in window)) this.poll(project.id);
    else this.listen(project.id);
  },

  listen(id) {
    const source = new EventSource(`/v1/projects/${id}/events`);
    this.watchers.set(id, () => source.close());
    source.addEventListener("progress", (event) => {
      this.updateProgress(id, JSON.parse(event.data));
    });
    for (const state of FINISHED) {
      source.addEventListener(state, () => {
        this.unwatch(id);
        this.follow({ id });
      });
    }
    source.addEventListener("error", () => {
      // The server ended the stream, or it cannot be opened (e.g. auth): fall back.
      if (!this.watchers.has(id)) return;
      this.unwatch(id);
      this.poll(id);
    });
  },

  poll(id) {
    let timer = 0;
    let stopped = false;
    this.watchers.set(id, () => { stopped = true; clearTimeout(timer); });
    const once = async () => {
      try {
        const project = await apiJson(`/v1/projects/${id}`);
        if (stopped) return;
        this.render(project);
        if (FINISHED.has(project.state)) {
          this.unwatch(id);
          if (project.state === "completed") this.showListen(project);
          return;
        }
      } catch (error) {
        if (error.status === 404) { this.unwatch(id); this.remove(id); return; }
        this.showError(id, error.message);
      }
      if (!stopped) timer = setTimeout(once, 1000);
    };
    timer = setTimeout(once, 1000);
  },

  unwatch(id) {
    const stop = this.watchers.get(id);
    this.watchers.delete(id);
    if (stop) stop();
  },

  /** Create or update the list item of a project. */
  render(project, first = false) {
    let item = this.items.get(project.id);
    if (!item) {
      item = $("#project-template").content.firstElementChild.cloneNode(true);
      item.dataset.id = project.id;
      const heading = `project-${project.id}`;
      $(".project-name", item).id = heading;
      item.setAttribute("aria-labelledby", heading);
      const label = $(".project-progress-label", item);
      label.htmlFor = `${heading}-progress`;
      $(".overall", item).id = `${heading}-progress`;
      $(".cancel", item).addEventListener("click", () => this.cancel(project.id));
      $(".delete", item).addEventListener("click", () => this.delete(project.id));
      this.items.set(project.id, item);
      const list = $("#projects");
      if (first) list.prepend(item);
      else list.append(item);
    }
    item.dataset.state = project.state;
    $(".project-name", item).textContent = project.title || project.name;
    $(".state", item).textContent = project.state;
    $(".cancel", item).hidden = FINISHED.has(project.state);
    const error = $(".project-error", item);
    error.hidden = !project.error;
    error.textContent = project.error || "";
    item.dataset.format = project.response_format;
    item.dataset.summary = `${project.voice} · ${project.response_format} · ${project.chapters} chapter${project.chapters === 1 ? "" : "s"}`;
    if (project.progress) this.updateProgress(project.id, project.progress, project.state);
    else $(".summary", item).textContent = item.dataset.summary;
  },

  updateProgress(id, progress, state) {
    const item = this.items.get(id);
    if (!item) return;
    state = state || item.dataset.state;
    const overall = $(".overall", item);
    overall.value = progress.percent;
    overall.textContent = `${Math.round(progress.percent)} %`;
    let summary = `${item.dataset.summary} · ${Math.round(progress.percent)} %`;
    if (!FINISHED.has(state) && progress.eta_seconds != null) {
      summary += ` · about ${formatSeconds(progress.eta_seconds)} left`;
    }
    if (progress.audio_seconds) summary += ` · ${formatSeconds(progress.audio_seconds)} of audio`;
    $(".summary", item).textContent = summary;
    const body = $(".chapters tbody", item);
    for (const chapter of progress.chapters) {
      let row = body.querySelector(`tr[data-chapter="${chapter.index}"]`);
      if (!row) {
        row = document.createElement("tr");
        row.dataset.chapter = chapter.index;
        row.innerHTML = `<th scope="row"></th><td><progress max="100"></progress> <span class="pct"></span></td><td class="chapter-audio"></td>`;
        body.append(row);
      }
      const percent = chapter.segments_total
        ? (100 * chapter.segments_done) / chapter.segments_total : 0;
      row.querySelector("th").textContent = `${chapter.index + 1}. ${chapter.title || "Untitled"}`;
      const bar = row.querySelector("progress");
      bar.value = percent;
      bar.setAttribute("aria-label", `Chapter ${chapter.index + 1} progress`);
      row.querySelector(".pct").textContent = `${Math.round(percent)} %`;
      row.dataset.percent = Math.round(percent);
      row.querySelector(".chapter-audio").textContent = chapter.audio_seconds
        ? formatSeconds(chapter.audio_seconds) : "";
      row.dataset.ready = chapter.ready ? "1" : "";
    }
    // Converted chapters can be heard before the rest of the project is done.
    this.offerChapters(id, progress.chapters.filter((chapter) => chapter.ready));
  },

  showError(id, message) {
    const item = this.items.get(id);
    if (!item) return;
    const error = $(".project-error", item);
    error.hidden = false;
    error.textContent = message;
  },

  /** A completed project: every chapter in the player, and the book's download links. */
  showListen(project) {
    const item = this.items.get(project.id);
    if (!item || item.dataset.complete) return;
    item.dataset.complete = "1";
    const chapters = project.progress ? project.progress.chapters : [];
    this.offerChapters(project.id, chapters);
    const box = $(".listen", item);
    const base = `/v1/projects/${project.id}`;
    this.addLink(project.id, $(".book-links", box), "Book", `${base}/audio`);
    const files = $(".file-links", box);
    this.addLink(project.id, files, "Subtitles (VTT)", `${base}/subtitles.vtt`);
    this.addLink(project.id, files, "Subtitles (SRT)", `${base}/subtitles.srt`);
    this.addLink(project.id, files, "Manifest", `${base}/manifest.json`);
  },

  /**
   * Chapters that are converted (``ready``), while the rest of the project may still run:
   * a player with subtitles and the cue list, one option and one download link each.
   */
  offerChapters(id, chapters) {
    const item = this.items.get(id);
    if (!item || !chapters.length) return;
    const base = `/v1/projects/${id}`;
    const box = $(".listen", item);
    if (!item.dataset.listening) {
      item.dataset.listening = "1";
      box.hidden = false;
      const selectId = `chapter-${id}`;
      box.innerHTML = `
        <div class="row">
          <div class="field">
            <label for="${selectId}">Listen to chapter</label>
            <select id="${selectId}" class="chapter-select"></select>
          </div>
        </div>
        <audio class="chapter-player" controls preload="metadata"></audio>
        <ol class="cues" aria-label="Subtitles"></ol>
        <p class="downloads">Download: <span class="book-links"></span><span class="chapter-links"></span><span class="file-links"></span></p>`;
      const select = $(".chapter-select", box);
      select.addEventListener("change", () => {
        box.dataset.chosen = "1";
        this.loadChapter(box, base, Number(select.value));
      });
    }
    // Chapters become ready in any order; options and links stay in chapter order.
    const select = $(".chapter-select", box);
    const links = $(".chapter-links", box);
    const offered = new Set([...select.options].map((option) => Number(option.value)));
    const added = chapters.filter((chapter) => !offered.has(chapter.index));
    if (!added.length) return;
    for (const chapter of added) {
      const later = [...select.options].find((option) => Number(option.value) > chapter.index);
      select.add(new Option(`${chapter.index + 1}. ${chapter.title || "Untitled"}`, chapter.index), later || null);
      this.addLink(id, links, `Chapter ${chapter.index + 1}`,
        `${base}/chapters/${chapter.index}/audio`).dataset.index = chapter.index;
    }
    const sorted = [...links.querySelectorAll("a")]
      .sort((a, b) => Number(a.dataset.index) - Number(b.dataset.index));
    links.replaceChildren(...sorted.flatMap((link) => [link, " "]));
    // Until the listener picks a chapter, the player holds the first one ready.
    const first = select.options[0];
    if (first && !box.dataset.chosen && box.dataset.loaded !== first.value) {
      select.value = first.value;
      this.loadChapter(box, base, Number(first.value));
    }
  },

  /** A download link; with a key the click fetches with the header instead. */
  addLink(id, container, text, path) {
    const link = document.createElement("a");
    link.href = path;
    link.textContent = text;
    link.setAttribute("download", "");
    link.addEventListener("click", async (event) => {
      if (!apiKey()) return;
      event.preventDefault();
      try {
        const response = await api(path);
        const name = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "");
        saveBlob(await response.blob(), name ? name[1] : path.split("/").pop());
      } catch (error) {
        this.showError(id, error.message);
      }
    });
    container.append(link, " ");
    return link;
  },

  /** Point the player at one chapter with its WebVTT track, and list its cues. */
  async loadChapter(box, base, index) {
    box.dataset.loaded = String(index);
    const old = $(".chapter-player", box);
    // A fresh <audio> each time: a <track> element's source cannot be swapped reliably.
    const audio = document.createElement("audio");
    audio.className = "chapter-player";
    audio.controls = true;
    audio.preload = "metadata";
    // Observable from the DOM (tests, assistive tooling): the chapter's length once known.
    audio.addEventListener("loadedmetadata", () => {
      audio.dataset.duration = audio.duration.toFixed(3);
    });
    const list = $(".cues", box);
    list.replaceChildren();
    try {
      audio.src = await mediaUrl(`${base}/chapters/${index}/audio`);
      const track = document.createElement("track");
      track.kind = "subtitles";
      track.label = "Subtitles";
      track.srclang = "en";
      track.default = true;
      track.src = await mediaUrl(`${base}/subtitles.vtt?chapter=${index}`);
      audio.append(track);
      old.replaceWith(audio);
      // An <audio> shows no captions: keep the track "hidden" (loaded, cues fire) and
      // render the cues as a list, highlighting the current one.
      track.track.mode = "hidden";
      track.addEventListener("load", () => this.listCues(audio, track.track, list));
    } catch (error) {
      list.textContent = error.message;
    }
  },

  listCues(audio, textTrack, list) {
    list.replaceChildren();
    for (const cue of textTrack.cues) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "cue";
      button.textContent = cue.text;
      button.title = `Play from ${formatSeconds(cue.startTime)}`;
      button.addEventListener("click", () => {
        audio.currentTime = cue.startTime;
        audio.play();
      });
      li.append(button);
      li.dataset.start = cue.startTime;
      list.append(li);
    }
    list.dataset.cues = textTrack.cues.length;
    textTrack.addEventListener("cuechange", () => {
      const active = new Set([...(textTrack.activeCues || [])].map((c) => c.startTime));
      for (const li of list.children) {
        const on = active.has(Number(li.dataset.start));
        li.classList.toggle("current", on);
        if (on) li.setAttribute("aria-current", "true");
        else li.removeAttribute("aria-current");
      }
    });
  },

  async cancel(id) {
    try {
      const project = await apiJson(`/v1/projects/${id}/cancel`, { method: "POST" });
      this.unwatch(id);
      this.render(project);
    } catch (error) {
      this.showError(id, error.message);
    }
  },

  async delete(id) {
    const item = this.items.get(id);
    const name = item ? $(".project-name", item).textContent : id;
    if (!confirm(`Delete “${name}” and all its files?`)) return;
    try {
      await api(`/v1/projects/${id}`, { method: "DELETE" });
      this.unwatch(id);
      this.remove(id);
      setStatus($("#upload-status"), `Deleted “${name}”.`);
    } catch (error) {
      this.showError(id, error.message);
    }
  },

  remove(id) {
    const item = this.items.get(id);
    if (item) item.remove();
    this.items.delete(id);
    $("#projects-empty").hidden = this.items.size > 0;
  },
};

// ---------------------------------------------------------------------------------------

function main() {
  $("#forget-key").hidden = !apiKey();
  $("#forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    $("#forget-key").hidden = true;
  });
  playground.init();
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
