// Playground: speak the text, play it while it streams, show the metrics, download it.

import { ApiError, api } from "./api.js";
import { PcmStreamPlayer, clearWaveform, drawWaveform } from "./player.js";
import { $, formatSeconds, saveBlob, setStatus } from "./ui.js";

export const playground = {
  context: null,
  player: null,
  abort: null,
  frame: 0,
  spoken: null,   // the request whose audio the player holds (what Download saves)

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
    window.addEventListener("voxserve:forget", () => this.stop("Stopped."));
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
    this.player = null;
    this.spoken = null;
    clearWaveform($("#waveform"));
    $("#play-progress").value = 0;
    view.dataset.state = "requesting";
    view.dataset.playedSeconds = "0";
    view.dataset.receivedSeconds = "0";
    setStatus(status, "Synthesizing…");
    const request = this.request("pcm");
    const t0 = performance.now();
    let player = null;
    try {
      const response = await api("/v1/audio/speech", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(request),
        signal: abort.signal,
      });
      const sampleRate = Number(response.headers.get("X-Voxserve-Sample-Rate")) || 24000;
      player = new PcmStreamPlayer(this.context, sampleRate);
      this.player = player;
      this.spoken = request;
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
      // Real-time factor: processing time per second of audio (below 1 is faster).
      if (audio > 0) {
        $("#m-rtf").textContent =
          `${(wall / audio).toFixed(2)} (${(audio / wall).toFixed(1)}× faster than real time)`;
      }
      view.dataset.receivedSeconds = audio.toFixed(3);
      if (!player.samples) throw new ApiError("The server sent no audio.", 0);
      $("#download").disabled = false;
      view.dataset.state = "streamed";
      setStatus(status, `Received ${formatSeconds(audio)} of audio; playing.`);
    } catch (error) {
      if (abort.signal.aborted) return;
      // The stream failed: stop what is still queued and show no half-waveform.
      this.abort = null;
      this.halt();
      this.player = null;
      this.spoken = null;
      clearWaveform($("#waveform"));
      $("#play-progress").value = 0;
      view.dataset.state = "error";
      setStatus(status, error.message, true);
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
      if (!player || !["requesting", "playing", "streamed"].includes(view.dataset.state)) return;
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

  /** Abort the request and silence the player; the drawing stays as it is. */
  halt() {
    if (this.abort) this.abort.abort();
    this.abort = null;
    if (this.player) this.player.stop();
    cancelAnimationFrame(this.frame);
    $("#stop").disabled = true;
  },

  stop(message) {
    this.halt();
    if (message) {
      $("#player").dataset.state = "stopped";
      setStatus($("#speak-status"), message);
      if (this.player && this.player.samples) $("#download").disabled = false;
    }
  },

  // WAV and PCM come from what was received; other formats are the same request (the text,
  // voice and speed that were heard, whatever the form says now) in that format.
  async download() {
    const format = $("#format").value;
    const status = $("#speak-status");
    if (!this.player || !this.spoken) return;
    try {
      if (format === "wav" || format === "pcm") {
        saveBlob(format === "wav" ? this.player.toWav() : this.player.toPcm(), `speech.${format}`);
        return;
      }
      setStatus(status, `Preparing ${format.toUpperCase()}…`);
      const response = await api("/v1/audio/speech", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ...this.spoken, response_format: format }),
      });
      const extension = { opus: "ogg", aac: "aac" }[format] || format;
      saveBlob(await response.blob(), `speech.${extension}`);
      setStatus(status, `Downloaded speech.${extension}.`);
    } catch (error) {
      setStatus(status, error.message, true);
    }
  },
};
