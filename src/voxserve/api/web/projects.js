// Projects: upload a document, follow its conversion live (SSE, or polling when a key is
// needed), list its chapters with their progress; cancel and delete.

import { api, apiJson, apiKey } from "./api.js";
import { offerBook, offerChapters } from "./chapters.js";
import { $, formatSeconds, setStatus } from "./ui.js";

const FINISHED = new Set(["completed", "failed", "canceled"]);

export const projects = {
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
    offerChapters(item, id, progress.chapters.filter((chapter) => chapter.ready),
      (message) => this.showError(id, message));
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
    if (item) offerBook(item, project, (message) => this.showError(project.id, message));
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
