"""Every Prometheus metric voxserve exports, defined in one place (base units, Prometheus names).

Modules import the metric objects from here; ``GET /metrics`` renders the default registry.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)

# --- HTTP ---------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "voxserve_http_requests_total", "HTTP requests by route and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "voxserve_http_request_duration_seconds", "HTTP request duration, to the last byte.",
    ["method", "route"], buckets=_LATENCY_BUCKETS_S,
)
TIME_TO_FIRST_AUDIO = Histogram(
    "voxserve_time_to_first_audio_seconds", "From request arrival to the first audio bytes.",
    ["engine", "transport"], buckets=_LATENCY_BUCKETS_S,
)

# --- gRPC (voxserve.rpc) --------------------------------------------------------------------
GRPC_REQUESTS = Counter(
    "voxserve_grpc_requests_total", "gRPC calls of the Speech service by method and status.",
    ["method", "code"],
)
GRPC_REQUEST_DURATION = Histogram(
    "voxserve_grpc_request_duration_seconds", "gRPC call duration, to the last message.",
    ["method"], buckets=_LATENCY_BUCKETS_S,
)

# --- scheduler ----------------------------------------------------------------------------
QUEUE_WAIT = Histogram(
    "voxserve_queue_wait_seconds", "Time a segment waited in the queue before synthesis.",
    ["engine", "priority"], buckets=_LATENCY_BUCKETS_S,
)
QUEUE_DEPTH = Gauge(
    "voxserve_queue_depth", "Segments waiting in the queue.", ["engine", "priority"]
)
IN_FLIGHT = Gauge(
    "voxserve_in_flight_segments", "Segments being synthesized now.", ["engine", "priority"]
)
REJECTED = Counter(
    "voxserve_rejected_requests_total", "Requests refused before synthesis, by reason.",
    ["engine", "reason"],
)
BATCH_SIZE = Histogram(
    "voxserve_batch_size", "Segments per engine call.", ["engine"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
)

# --- engines ------------------------------------------------------------------------------
AUDIO_SECONDS = Counter(
    "voxserve_audio_seconds_total", "Seconds of audio synthesized.", ["engine"]
)
ENGINE_BUSY = Counter(
    "voxserve_engine_busy_seconds_total",
    "Wall seconds the replicas spent in engine calls (rate / replicas = utilization).",
    ["engine"],
)
ENGINE_CPU = Counter(
    "voxserve_engine_cpu_seconds_total",
    "CPU seconds of the replica threads during engine calls (the engine's own work on "
    "CPU; a GPU engine's calls mostly wait).",
    ["engine"],
)
REAL_TIME_FACTOR = Histogram(
    "voxserve_real_time_factor", "Synthesis time divided by audio duration, per engine call.",
    ["engine"], buckets=_RTF_BUCKETS,
)
ENGINE_ERRORS = Counter(
    "voxserve_engine_errors_total", "Engine calls that failed.", ["engine"]
)
WIDE_INTERRUPTS = Counter(
    "voxserve_wide_runs_interrupted_total",
    "All-core runs stopped before their first audio because a second segment arrived "
    "(the segment is run again on a replica).",
    ["engine"],
)
ADMISSION_CALIBRATION = Gauge(
    "voxserve_admission_calibration",
    "Admission's learned factor on its estimates of the time to first audio (the 0.95 "
    "quantile of real over estimated, near the queue budget; 1 until observed).",
    ["engine"],
)

# --- cache --------------------------------------------------------------------------------
CACHE_HITS = Counter("voxserve_cache_hits_total", "Segment cache hits.", ["backend"])
CACHE_MISSES = Counter("voxserve_cache_misses_total", "Segment cache misses.", ["backend"])
CACHE_ERRORS = Counter(
    "voxserve_cache_errors_total", "Cache operations that failed (the request went on).",
    ["backend"],
)
CACHE_EVICTIONS = Counter(
    "voxserve_cache_evictions_total", "Entries evicted to stay within bounds.", ["backend"]
)
CACHE_BYTES = Gauge("voxserve_cache_bytes", "Bytes held by the cache.", ["backend"])

# --- rate limits --------------------------------------------------------------------------
RATE_LIMIT_ERRORS = Counter(
    "voxserve_rate_limit_errors_total",
    "Rate-limit storage errors (the request was let through).",
    ["operation"],
)
RATE_LIMITED = Counter(
    "voxserve_rate_limited_total", "Requests refused by a rate limit.", ["limit"]
)

# --- maya1 --------------------------------------------------------------------------------
MAYA1_SEGMENTS = Counter(
    "voxserve_maya1_segments_total",
    "Maya1 segments by how their generation ended: eos (the model ended the speech), "
    "max_tokens (the token limit cut it), closed (the consumer stopped reading), failed.",
    ["end"],
)
MAYA1_FRAMES = Histogram(
    "voxserve_maya1_frames", "Audio frames (85.3 ms each) generated per Maya1 segment.",
    buckets=(4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024, 2048),
)
MAYA1_STRAY_TOKENS = Counter(
    "voxserve_maya1_stray_tokens_total",
    "Generated tokens outside their frame slot's code range, by what was done: repaired "
    "(kept, code reduced to its own slot) or frame_skipped (its frame was dropped).",
    ["backend", "action"],
)
MAYA1_SNAC_BATCH = Histogram(
    "voxserve_maya1_snac_batch_windows", "SNAC decode windows per batched decode call.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
MAYA1_SNAC_DECODE = Histogram(
    "voxserve_maya1_snac_decode_seconds", "Duration of one batched SNAC decode call.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
)

# --- model repository (issue 19) ----------------------------------------------------------
MODEL_LOADS = Counter(
    "voxserve_model_loads_total", "Model version loads, by model and result (ok, failed).",
    ["model", "result"],
)
MODEL_UNLOADS = Counter(
    "voxserve_model_unloads_total",
    "Model version unloads, by model and reason (admin, swap, idle, removed).",
    ["model", "reason"],
)
MODEL_LOAD_SECONDS = Histogram(
    "voxserve_model_load_seconds", "Time to load and warm up one model version (all replicas).",
    ["model"], buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
MODELS_LOADED = Gauge("voxserve_models_loaded", "Repository model versions loaded now.")
MODEL_BYTES = Gauge(
    "voxserve_model_bytes", "File bytes of the loaded repository model versions (times replicas).",
)
