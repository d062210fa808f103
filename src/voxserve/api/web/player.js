// Streaming playback of 16-bit PCM with Web Audio, and the waveform of what was received.

/**
 * Plays raw 16-bit little-endian mono PCM as it arrives. Each network chunk becomes an
 * AudioBuffer at the stream's sample rate (Web Audio resamples to the device rate) and is
 * scheduled right after the previous one, so chunks join without gaps; if the network
 * falls behind, playback resumes a little after "now" (an audible pause, not a glitch).
 */
export class PcmStreamPlayer {
  constructor(context, sampleRate) {
    this.context = context;
    this.sampleRate = sampleRate;
    this.nextStart = 0;          // context time where the next chunk starts
    this.scheduled = [];         // [{start, duration}] in context time
    this.sources = new Set();
    this.leftover = null;        // an odd trailing byte from the previous network chunk
    this.chunks = [];            // Int16Array pieces, for the WAV download
    this.samples = 0;
    // The waveform's summary, kept as audio arrives so drawing never walks the samples:
    // the lowest and highest sample of each block of PEAK_BLOCK samples.
    this.peakLow = [];
    this.peakHigh = [];
    this.blockFill = 0;
  }

  /** Fold new samples into the per-block minimum and maximum. */
  addPeaks(pcm) {
    for (let i = 0; i < pcm.length; i++) {
      const value = pcm[i];
      const last = this.peakLow.length - 1;
      if (this.blockFill === 0) {
        this.peakLow.push(value);
        this.peakHigh.push(value);
      } else if (value < this.peakLow[last]) this.peakLow[last] = value;
      else if (value > this.peakHigh[last]) this.peakHigh[last] = value;
      this.blockFill = (this.blockFill + 1) % PEAK_BLOCK;
    }
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
    this.addPeaks(pcm);
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

/** Samples per waveform block (about 10 ms at 24 kHz). */
const PEAK_BLOCK = 256;

/**
 * Draws the received waveform (min/max per pixel column, from the blocks the player keeps,
 * so a frame costs the canvas's width, not the audio's length) and the play head. The
 * canvas is sized to its box in device pixels (sharp on high-DPI screens).
 * ``canvas.dataset.samples`` says how many samples the drawing shows (0: blank).
 */
export function drawWaveform(canvas, player) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, width, height);
  canvas.dataset.samples = player ? String(player.samples) : "0";
  if (!player || !player.samples) return;
  const style = getComputedStyle(canvas);
  const colours = [style.getPropertyValue("--wave-played"), style.getPropertyValue("--wave")];
  // Scale: at least 5 s across, or everything received so far.
  const blocks = player.peakLow.length;
  const span = Math.max(blocks, (player.sampleRate * 5) / PEAK_BLOCK);
  const playedBlocks = (player.playedSeconds() * player.sampleRate) / PEAK_BLOCK;
  const mid = height / 2;
  for (let column = 0; column < width; column++) {
    const first = Math.floor((column * span) / width);
    if (first >= blocks) break;
    const last = Math.min(blocks, Math.max(first + 1, Math.floor(((column + 1) * span) / width)));
    let low = player.peakLow[first];
    let high = player.peakHigh[first];
    for (let b = first + 1; b < last; b++) {
      if (player.peakLow[b] < low) low = player.peakLow[b];
      if (player.peakHigh[b] > high) high = player.peakHigh[b];
    }
    g.fillStyle = colours[first < playedBlocks ? 0 : 1];
    const top = mid - (high / 32768) * mid;
    const bottom = mid - (low / 32768) * mid;
    g.fillRect(column, top, 1, Math.max(1, bottom - top));
  }
}

/** Blank the waveform (after an error, or before new audio). */
export function clearWaveform(canvas) {
  drawWaveform(canvas, null);
}
