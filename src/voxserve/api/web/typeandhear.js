// "Type and hear": what is typed in the playground's text box is spoken as it is typed,
// over the streaming WebSocket (/v1/audio/speech/stream). New characters go to the server
// as text fragments; it speaks each sentence once it is complete (a clause when typing
// pauses), and the PCM it sends back is played as it comes.

import { apiKey } from "./api.js";
import { PcmStreamPlayer } from "./player.js";
import { $, setStatus } from "./ui.js";

export const typeAndHear = {
  socket: null,
  player: null,
  context: null,
  sent: "",       // the text already sent on this connection

  init() {
    $("#type-and-hear").addEventListener("change", (event) => {
      if (event.target.checked) this.start();
      else this.stop("Type and hear is off.");
    });
    $("#text").addEventListener("input", () => this.typed());
    window.addEventListener("voxserve:forget", () => this.stop("Stopped."));
  },

  async start() {
    this.stop();
    const status = $("#speak-status");
    // An AudioContext may only start after a user gesture: this runs from the change event.
    this.context ??= new AudioContext();
    await this.context.resume();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/v1/audio/speech/stream`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.sent = $("#text").value;  // what is there already is not spoken; new typing is
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({
        type: "config",
        model: $("#model").value || undefined,
        voice: $("#voice").value || undefined,
        speed: Number($("#speed").value),
        response_format: "pcm",
        token: apiKey() || undefined,  // a browser cannot send an Authorization header
      }));
    });
    socket.addEventListener("message", (event) => {
      if (event.data instanceof ArrayBuffer) {
        if (!this.player) return;
        this.player.push(new Uint8Array(event.data));
        $("#player").dataset.heardSeconds = String(this.player.samples / this.player.sampleRate);
        return;
      }
      const message = JSON.parse(event.data);
      if (message.type === "ready") {
        this.player = new PcmStreamPlayer(this.context, message.sample_rate);
        setStatus(status, "Type and hear: type a sentence; it is spoken when it ends.");
      } else if (message.type === "segment") {
        setStatus(status, `Spoke: ${message.text}`);
      } else if (message.type === "error") {
        setStatus(status, message.error.message, true);
      }
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      $("#type-and-hear").checked = false;
      if (event.code !== 1000 && event.reason) setStatus(status, event.reason, true);
    });
  },

  /** Send what was typed since the last fragment (a deletion starts over from here). */
  typed() {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || !this.player) return;
    const text = $("#text").value;
    if (text.startsWith(this.sent)) {
      const fresh = text.slice(this.sent.length);
      if (fresh) socket.send(JSON.stringify({ type: "text", text: fresh }));
    }
    this.sent = text;
  },

  stop(message) {
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "stopped");
    this.player?.stop();
    this.player = null;
    if (message) setStatus($("#speak-status"), message);
  },
};
