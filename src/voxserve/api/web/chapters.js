// A project's chapters to hear and download: a player for each converted chapter with its
// subtitles as a cue list that marks the cue and the word being spoken (words.js), and
// download links (chapters when ready, the book once done).

import { api, apiKey, mediaUrl, releaseMediaUrl } from "./api.js";
import { $, formatSeconds, saveBlob } from "./ui.js";
import { followWords, renderWords } from "./words.js";

/**
 * A completed project (``item``, its list item): every chapter in the player, and the
 * book's download links. ``onError(message)`` reports a download that failed.
 */
export function offerBook(item, project, onError) {
  if (item.dataset.complete) return;
  item.dataset.complete = "1";
  const chapters = project.progress ? project.progress.chapters : [];
  offerChapters(item, project.id, chapters, onError);
  const box = listenBox(item, project.id);  // there even when no chapter could be offered
  const base = `/v1/projects/${project.id}`;
  addLink($(".book-links", box), "Book", `${base}/audio`, onError);
  const files = $(".file-links", box);
  addLink(files, "Subtitles (VTT)", `${base}/subtitles.vtt`, onError);
  addLink(files, "Subtitles (SRT)", `${base}/subtitles.srt`, onError);
  addLink(files, "Manifest", `${base}/manifest.json`, onError);
}

/**
 * Chapters that are converted (``ready``), while the rest of the project may still run:
 * a player with subtitles and the cue list, one option and one download link each.
 */
export function offerChapters(item, id, chapters, onError) {
  if (!chapters.length) return;
  const base = `/v1/projects/${id}`;
  const box = listenBox(item, id);
  // Chapters become ready in any order; options and links stay in chapter order.
  const select = $(".chapter-select", box);
  const links = $(".chapter-links", box);
  const offered = new Set([...select.options].map((option) => Number(option.value)));
  const added = chapters.filter((chapter) => !offered.has(chapter.index));
  if (!added.length) return;
  for (const chapter of added) {
    const later = [...select.options].find((option) => Number(option.value) > chapter.index);
    select.add(new Option(`${chapter.index + 1}. ${chapter.title || "Untitled"}`, chapter.index), later || null);
    addLink(links, `Chapter ${chapter.index + 1}`, `${base}/chapters/${chapter.index}/audio`,
      onError).dataset.index = chapter.index;
  }
  const sorted = [...links.querySelectorAll("a")]
    .sort((a, b) => Number(a.dataset.index) - Number(b.dataset.index));
  links.replaceChildren(...sorted.flatMap((link) => [link, " "]));
  // Until the listener picks a chapter, the player holds the first one ready.
  const first = select.options[0];
  if (first && !box.dataset.chosen && box.dataset.loaded !== first.value) {
    select.value = first.value;
    loadChapter(box, base, Number(first.value));
  }
}

/** The item's listening area (chapter select, player, cues, downloads), made once. */
function listenBox(item, id) {
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
      loadChapter(box, base, Number(select.value));
    });
  }
  return box;
}

/** A download link; with a key the click fetches with the header instead. */
function addLink(container, text, path, onError) {
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
      onError(error.message);
    }
  });
  container.append(link, " ");
  return link;
}

/** The blob URLs (with a key) each listening box holds, freed when replaced or forgotten. */
const held = new WeakMap();

/** Free the media URLs an item's player holds (the key was forgotten, or it is removed). */
export function releaseMedia(item) {
  const box = $(".listen", item);
  for (const url of (box && held.get(box)) || []) releaseMediaUrl(url);
  if (box) held.delete(box);
}

/**
 * Point the player at one chapter with its WebVTT track (word level: each word's start
 * as a cue timestamp), and list its cues.
 */
async function loadChapter(box, base, index) {
  const wanted = String(index);
  box.dataset.loaded = wanted;
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
  const urls = [];
  try {
    urls.push(await mediaUrl(`${base}/chapters/${index}/audio`));
    urls.push(await mediaUrl(`${base}/subtitles.vtt?chapter=${index}&granularity=word`));
  } catch (error) {
    urls.forEach(releaseMediaUrl);
    if (box.dataset.loaded === wanted) list.textContent = error.message;
    return;
  }
  // Another chapter was chosen while these loaded: that one wins.
  if (box.dataset.loaded !== wanted) {
    urls.forEach(releaseMediaUrl);
    return;
  }
  for (const url of held.get(box) || []) releaseMediaUrl(url);
  held.set(box, urls);
  audio.src = urls[0];
  const track = document.createElement("track");
  track.kind = "subtitles";
  track.label = "Subtitles";
  track.srclang = "en";
  track.default = true;
  track.src = urls[1];
  audio.append(track);
  old.replaceWith(audio);
  // An <audio> shows no captions: keep the track "hidden" (loaded, cues fire) and
  // render the cues as a list, highlighting the current one.
  track.track.mode = "hidden";
  track.addEventListener("load", () => listCues(audio, track.track, list));
}

/**
 * The track's cues as buttons that play from there, their words as spans; the cue and
 * the word being spoken are marked.
 */
function listCues(audio, textTrack, list) {
  list.replaceChildren();
  let words = 0;
  for (const cue of textTrack.cues) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "cue";
    words += renderWords(button, cue.text, cue.startTime, words);
    button.title = `Play from ${formatSeconds(cue.startTime)}`;
    button.addEventListener("click", () => {
      audio.currentTime = cue.startTime;
      audio.play();
    });
    li.append(button);
    li.dataset.start = cue.startTime;
    li.dataset.end = cue.endTime;
    list.append(li);
  }
  list.dataset.cues = textTrack.cues.length;
  followWords(audio, list);
  textTrack.addEventListener("cuechange", () => {
    const active = new Set([...(textTrack.activeCues || [])].map((c) => c.startTime));
    for (const li of list.children) {
      const on = active.has(Number(li.dataset.start));
      li.classList.toggle("current", on);
      if (on) li.setAttribute("aria-current", "true");
      else li.removeAttribute("aria-current");
    }
  });
}
