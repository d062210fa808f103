// Word-level subtitles in the cue list: a cue's text with WebVTT cue timestamps
// (<00:00:01.200>word, as /subtitles.vtt?granularity=word writes them) becomes one span per
// timed word, and the word being spoken is marked (class current-word, aria-current="time")
// while the audio plays: every animation frame during playback, and on each seek.

const TIMESTAMP = /<(\d{2,}):(\d{2}):(\d{2})\.(\d{3})>/g;
const ENTITIES = { amp: "&", lt: "<", gt: ">", nbsp: "\u00a0", lrm: "\u200e", rlm: "\u200f" };

/** Cue text -> the text a reader sees (other tags dropped, character references read). */
function plain(text) {
  return text.replace(/<[^>]*>/g, "").replace(/&(amp|lt|gt|nbsp|lrm|rlm);/g,
    (_, name) => ENTITIES[name]);
}

/**
 * The timed pieces of a cue's text, ``[{start, text}]``: the text before the first
 * timestamp starts with the cue, each timestamp starts the text after it.
 */
export function cueWords(text, cueStart) {
  const words = [];
  let start = cueStart;
  let at = 0;
  const add = (piece) => {
    const shown = plain(piece).replace(/\s+/g, " ");
    if (shown.trim()) words.push({ start, text: shown });
  };
  for (const match of text.matchAll(TIMESTAMP)) {
    add(text.slice(at, match.index));
    start = Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3])
      + Number(match[4]) / 1000;
    at = match.index + match[0].length;
  }
  add(text.slice(at));
  return words;
}

/** Fill ``element`` with one span per timed word of the cue (data-start: its start). */
export function renderWords(element, text, cueStart, firstIndex) {
  const words = cueWords(text, cueStart);
  words.forEach((word, n) => {
    const span = document.createElement("span");
    span.className = "word";
    span.textContent = word.text.trim();  // the spaces stay outside the mark
    span.dataset.start = word.start;
    span.dataset.index = firstIndex + n;
    element.append(n ? " " : "", span);
  });
  return words.length;
}

/**
 * Mark the word of ``list`` (items with data-start/data-end holding .word spans) that
 * ``audio`` is saying; the list's data-word says which (its index), "" for none.
 */
export function followWords(audio, list) {
  let frame = 0;
  let current = null;
  const mark = () => {
    const now = audio.currentTime;
    let found = null;
    for (const item of list.children) {
      if (Number(item.dataset.start) > now) break;
      if (now >= Number(item.dataset.end)) continue;
      for (const word of item.querySelectorAll(".word")) {
        if (Number(word.dataset.start) > now) break;
        found = word;
      }
    }
    if (found === current) return;
    if (current) {
      current.classList.remove("current-word");
      current.removeAttribute("aria-current");
    }
    if (found) {
      found.classList.add("current-word");
      found.setAttribute("aria-current", "time");
    }
    current = found;
    list.dataset.word = found ? found.dataset.index : "";
  };
  const loop = () => {
    mark();
    frame = audio.paused || audio.ended ? 0 : requestAnimationFrame(loop);
  };
  audio.addEventListener("play", () => {
    if (!frame) frame = requestAnimationFrame(loop);
  });
  for (const event of ["timeupdate", "seeked", "pause", "ended"]) {
    audio.addEventListener(event, mark);
  }
}
