// Projects: convert a document or pasted text, follow its conversion live (SSE, or polling
// when a key is needed), list its chapters with their progress; cancel and delete.

import { api, apiJson, apiKey } from "./api.js";
import { offerBook, offerChapters, releaseMedia } from "./chapters.js";
import { $, formatBytes, formatSeconds, setStatus } from "./ui.js";

const FINISHED = new Set(["completed", "failed", "canceled"]);
const PAGE_SIZE = 20;
const POLL_S = 1;
const MAX_POLL_S = 30;
const DROP_HINT = "Drop a document here, or choose a file";

export const projects = {
  started: false,
  watchers: new Map(),   // project id -> function that stops watching
  items: new Map(),      // project id -> <li>
  cursor: null,          // the list's next page (older projects), or null
  submitted: null,       // {id, name} of the project this tab's form created last

  init() {
    const form = $("#upload-form");
    const input = $("#file");
    const zone = $("#dropzone");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.upload();
    });
    input.addEventListener("change", () => this.showChosen());
    const speed = $("#project-speed");
    speed.addEventListener("input", () => {
      $("#project-speed-value").textContent = `${Number(speed.value).toFixed(2)}×`;
    });
    // Drag and drop onto the zone fills the file input (keyboard users use the input).
    // Moving over the zone's own text fires dragleave on the zone: only leaving it counts.
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        zone.classList.add("over");
      });
    }
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove("over");
    });
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      if (event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        this.showChosen();
      }
    });
    $("#more-projects").addEventListener("click", () => this.refresh(this.cursor));
    window.addEventListener("voxserve:forget", () => this.forget());
  },

  showChosen() {
    const file = $("#file").files[0];
    $("#dropzone .dropzone-label").textContent = file
      ? `Chosen: ${file.name} (${formatBytes(file.size)})` : DROP_HINT;
  },

  async start() {
    if (this.started) return;
    this.started = true;
    await this.refresh(null);
  },

  /** Stop everything that ran with the forgotten key and drop what it fetched. */
  forget() {
    for (const id of [...this.watchers.keys()]) this.unwatch(id);
    for (const id of [...this.items.keys()]) this.remove(id);
    this.started = false;
    this.cursor = null;
    $("#more-projects").hidden = true;
    if (location.hash === "#projects") this.start();
  },

  /** One page of the list (``after``: the cursor of the page before; null: the newest). */
  async refresh(after) {
    const more = $("#more-projects");
    more.disabled = true;
    try {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (after) query.set("after", after);
      const list = await apiJson(`/v1/projects?${query}`);
      for (const project of list.data) {
        const known = this.items.has(project.id);
        this.render(project);
        // Finished ones from earlier visits start folded: the page stays short.
        if (!known && FINISHED.has(project.state)) this.fold(project.id, true);
        this.follow(project);
      }
      this.cursor = list.has_more ? list.next_cursor : null;
      more.hidden = !this.cursor;
      $("#projects-empty").hidden = this.items.size > 0;
    } catch (error) {
      this.started = false;
      setStatus($("#upload-status"), `Could not list projects: ${error.message}`, true);
    } finally {
      more.disabled = false;
    }
  },

  /** What the form asks for: a file (multipart) or the pasted text (JSON). */
  requestBody() {
    const file = $("#file").files[0];
    const text = $("#project-text").value;
    const voice = $("#project-voice").selectedOptions[0];
    const fields = {
      voice: voice ? voice.value : undefined,
      model: voice ? voice.dataset.engine : undefined,
      response_format: $("#project-format").value,
      speed: Number($("#project-speed").value),
      name: $("#project-name").value.trim() || undefined,
    };
    if (file) {
      const form = new FormData();
      form.append("file", file);
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined) form.append(key, String(value));
      }
      return { label: file.name, init: { method: "POST", body: form } };
    }
    if (text.trim()) {
      return {
        label: fields.name || "the pasted text",
        init: {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ text, markdown: true, ...fields }),
        },
      };
    }
    return null;
  },

  async upload() {
    const status = $("#upload-status");
    const body = this.requestBody();
    if (!body) {
      setStatus(status, "Choose a document or paste some text first.", true);
      $("#file").focus();
      return;
    }
    $("#upload").disabled = true;
    setStatus(status, `Uploading ${body.label}…`);
    try {
      const project = await apiJson("/v1/projects", body.init);
      this.submitted = { id: project.id, name: project.name };
      setStatus(status, `Converting “${project.name}”…`);
      // Sent: clear the form so "Convert" does not send the same thing again.
      $("#file").value = "";
      $("#project-text").value = "";
      $("#project-name").value = "";
      this.showChosen();
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
      this.finished(project);
      return;
    }
    if (this.watchers.has(project.id)) return;
    // EventSource cannot send an Authorization header: with a key, poll instead.
    if (apiKey() || !("EventSource" in window)) this.poll(project.id);
    else this.listen(project.id);
  },

  /** A project reached its end: offer its files, and tell the form's status line. */
  finished(project) {
    if (project.state === "completed") this.showListen(project);
    if (this.submitted && this.submitted.id === project.id) {
      const name = this.submitted.name;
      this.submitted = null;
      const words = { completed: "Converted", failed: "Could not convert", canceled: "Canceled" };
      setStatus($("#upload-status"), `${words[project.state]} “${name}”.`,
        project.state === "failed");
    }
  },

  listen(id) {
    const source = new EventSource(`/v1/projects/${id}/events`);
    this.watchers.set(id, () => source.close());
    source.addEventListener("state", (event) => {
      this.updateState(id, JSON.parse(event.data).state);
    });
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

  /** Poll every second; after an error, wait twice as long each time (up to 30 s). */
  poll(id) {
    let timer = 0;
    let stopped = false;
    let delay = POLL_S;
    this.watchers.set(id, () => { stopped = true; clearTimeout(timer); });
    const once = async () => {
      try {
        const project = await apiJson(`/v1/projects/${id}`);
        if (stopped) return;
        delay = POLL_S;
        this.render(project);
        if (FINISHED.has(project.state)) {
          this.unwatch(id);
          this.finished(project);
          return;
        }
      } catch (error) {
        if (stopped) return;
        if (error.status === 404) { this.unwatch(id); this.remove(id); return; }
        this.showError(id, `${error.message} (trying again in ${Math.round(delay * 2)} s)`);
        delay = Math.min(delay * 2, MAX_POLL_S);
      }
      if (!stopped) timer = setTimeout(once, delay * 1000);
    };
    timer = setTimeout(once, delay * 1000);
  },

  unwatch(id) {
    const stop = this.watchers.get(id);
    this.watchers.delete(id);
    if (stop) stop();
  },

  /** Fold or unfold a card's chapters and player; unfolding a finished one folds the
   * other finished ones, so the list stays short. */
  fold(id, folded) {
    const item = this.items.get(id);
    if (!item) return;
    $(".project-body", item).hidden = folded;
    const toggle = $(".toggle", item);
    toggle.setAttribute("aria-expanded", String(!folded));
    toggle.textContent = folded ? "Show chapters" : "Hide chapters";
    item.dataset.folded = folded ? "1" : "";
    if (!folded && FINISHED.has(item.dataset.state)) {
      for (const [other, element] of this.items) {
        if (other !== id && FINISHED.has(element.dataset.state) && !element.dataset.folded) {
          this.fold(other, true);
        }
      }
    }
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
      const body = $(".project-body", item);
      body.id = `${heading}-body`;
      $(".toggle", item).setAttribute("aria-controls", body.id);
      $(".toggle", item).addEventListener("click", () => {
        this.fold(project.id, !item.dataset.folded);
      });
      $(".cancel", item).addEventListener("click", () => this.cancel(project.id));
      $(".delete", item).addEventListener("click", () => this.delete(project.id));
      this.items.set(project.id, item);
      const list = $("#projects");
      if (first) list.prepend(item);
      else list.append(item);
    }
    this.updateState(project.id, project.state);
    $(".project-name", item).textContent = project.title || project.name;
    const error = $(".project-error", item);
    error.hidden = !project.error;
    error.textContent = project.error || "";
    item.dataset.format = project.response_format;
    item.dataset.summary = `${project.voice} · ${project.response_format} · ${project.chapters} chapter${project.chapters === 1 ? "" : "s"}`;
    if (project.progress) this.updateProgress(project.id, project.progress, project.state);
    else $(".summary", item).textContent = item.dataset.summary;
  },

  updateState(id, state) {
    const item = this.items.get(id);
    if (!item) return;
    item.dataset.state = state;
    $(".state", item).textContent = state;
    $(".cancel", item).hidden = FINISHED.has(state);
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
        row.innerHTML = `<th scope="row"></th><td class="chapter-progress"><progress max="100"></progress> <span class="pct"></span></td><td class="chapter-audio"></td>`;
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
      this.finished(project);
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
    if (item) {
      releaseMedia(item);
      item.remove();
    }
    this.items.delete(id);
    $("#projects-empty").hidden = this.items.size > 0;
  },
};
