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
export function drawWaveform(canvas, player) {
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
