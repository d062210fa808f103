"""The one settings object: every knob, read from ``VOXSERVE_*`` environment variables.

CLI flags of ``voxserve serve`` override the environment by passing keyword arguments.
Names carry their units (``_ms``, ``_s``, ``_hz``, ``_chars``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from voxserve.types import AudioFormat

LogLevel = Literal["debug", "info", "warning", "error", "critical"]

DEFAULT_VOICE_ALIASES: dict[str, str] = {
    name: "en_US-joe-medium"
    for name in (
        "alloy", "ash", "ballad", "coral", "echo", "fable",
        "nova", "onyx", "sage", "shimmer", "verse",
    )
}
DEFAULT_MODEL_ALIASES: dict[str, str] = {
    "tts-1": "piper",
    "tts-1-hd": "piper",
    "gpt-4o-mini-tts": "piper",
}


class EngineOverrides(BaseModel):
    """Scheduling settings for one engine that differ from the global ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    replicas: int | None = Field(default=None, ge=1, le=256)
    max_queue_segments: int | None = Field(default=None, ge=1)
    queue_budget_ms: float | None = Field(default=None, ge=1.0)
    max_batch_size: int | None = Field(default=None, ge=1)
    max_queue_delay_ms: float | None = Field(default=None, ge=0.0)


@dataclass(frozen=True, slots=True)
class EngineScheduling:
    """One engine's scheduling settings, overrides applied (:meth:`Settings.scheduling_for`)."""

    replicas: int
    max_queue_segments: int
    queue_budget_ms: float
    max_batch_size: int
    max_queue_delay_ms: float


#: Engines that run on CPU and gain from one replica per core (measured: bench/serving.py).
_CPU_ENGINES = frozenset({"piper"})
_MAX_AUTO_REPLICAS = 8


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (``taskset``, a container's cpuset)
    where the platform has one, else every CPU of the machine."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity API on this platform
        return os.cpu_count() or 1


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "voxserve"


class Settings(BaseSettings):
    """Configuration of a voxserve process (API server, CLI or worker)."""

    model_config = SettingsConfigDict(
        env_prefix="VOXSERVE_", extra="forbid", frozen=True, validate_default=True
    )

    # --- server -------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: LogLevel = "info"
    #: ``json`` (one object per line, for containers and log collectors), ``text`` (for
    #: people), or ``auto``: text when standard error is a terminal, else JSON.
    log_format: Literal["auto", "json", "text"] = "auto"
    #: Longest a client may take to send a request's line and headers (a slow client holds
    #: a connection otherwise); then the connection is closed with 408.
    header_timeout_s: float = Field(default=10.0, gt=0.0, le=600.0)
    #: Proxies whose ``X-Forwarded-For``/``-Proto`` are believed: addresses or networks
    #: (``10.0.0.0/8``), or ``*``. Empty (the default): none; the peer address is the client.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: ``/metrics``, ``/docs``, ``/redoc`` and ``/openapi.json``: ``public``, ``admin``
    #: (an ``admin``-scope credential), or ``auto``: admin when authentication is on.
    operations_access: Literal["auto", "public", "admin"] = "auto"
    #: Serve ``/metrics`` on this port of its own (same bind address, no authentication;
    #: keep it inside the cluster) instead of the API port; 0: on the API port.
    metrics_port: int = Field(default=0, ge=0, le=65535)

    # --- local state -------------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir)
    #: Extra Piper voices (``*.onnx`` + ``*.onnx.json``); defaults to ``<data_dir>/models``.
    models_dir: Path | None = None

    # --- engines and names ---------------------------------------------------------
    #: Engines to load at start-up, by registry name (``piper``, ``fake`` for tests).
    engines: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["piper"])
    default_model: str = "piper"
    default_voice: str = "en_US-joe-medium"
    #: Client-facing voice names (OpenAI's ``alloy`` …) mapped to local voice ids.
    voice_aliases: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_VOICE_ALIASES))
    #: Client-facing model names (OpenAI's ``tts-1`` …) mapped to local engine names.
    model_aliases: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MODEL_ALIASES))

    # --- requests ------------------------------------------------------------------
    max_input_chars: int = Field(default=4096, ge=1, le=1_000_000)
    max_segment_chars: int = Field(default=400, ge=20, le=10_000)
    #: An interactive request whose first sentence has at least this many words speaks it in
    #: two parts cut at a clause boundary (first audio sooner); 0: off. Never for batch work
    #: or conversions.
    first_chunk_min_words: int = Field(default=12, ge=0, le=1000)
    default_response_format: AudioFormat = AudioFormat.MP3

    #: Server-Sent Events streams send a comment after this long without an event (proxies
    #: close idle connections).
    sse_keepalive_s: float = Field(default=15.0, gt=0.0, le=300.0)

    # --- audio ---------------------------------------------------------------------
    sentence_silence_ms: float = Field(default=200.0, ge=0.0, le=5000.0)
    join_fade_ms: float = Field(default=5.0, ge=0.0, le=100.0)

    # --- text: chapter titles (issue 18) -------------------------------------------
    #: A project's chapters start with their title, spoken as a paragraph of its own (the
    #: paragraph pause follows it). Only titles the document gives are spoken.
    speak_chapter_titles: bool = True

    # --- engine runtime ------------------------------------------------------------
    #: Engine instances per engine, each with its own runtime, thread budget and thread.
    #: 0 (auto): one per usable CPU (affinity mask; at most 8) for CPU engines (piper), 1 for
    #: the others.
    engine_replicas: int = Field(default=0, ge=0, le=256)
    #: onnxruntime intra-op threads per Piper session; 0 (auto): the cores divided among the
    #: replicas (at least 1), so replicas x threads never oversubscribes the CPU.
    piper_intra_op_threads: int = Field(default=0, ge=0, le=256)
    piper_inter_op_threads: int = Field(default=1, ge=0, le=256)
    piper_use_cuda: bool = False
    #: Load and warm up every discovered voice at start-up (else on first use).
    piper_preload_voices: bool = True

    # --- adaptive use of the cores (issue 17; voxserve.scheduler.layout) -----------------
    #: CPU engines with two replicas or more also get one instance whose runtime uses every
    #: usable core, gang-scheduled with the replicas: a segment alone (one client) runs on
    #: it at the all-core latency; several runnable segments run one per replica.
    adaptive_threads: bool = True
    #: onnxruntime's ``session.intra_op.allow_spinning`` for Piper sessions: a multi-thread
    #: session's pool threads spin between a run's operators instead of sleeping (they stop
    #: when the run returns: ``session.force_spinning_stop``). It matters only for sessions
    #: of two threads or more (the all-core instance): on a quiet 2-core machine it is about
    #: 10 % faster per sentence with it; on a machine whose cores other processes keep busy
    #: it was slower (docs/performance.md), where ``false`` is the better choice.
    piper_allow_spinning: bool = True

    # --- scheduler (per engine; see voxserve.scheduler) -------------------------------------
    #: Segments that may wait per engine before new requests are refused (503).
    max_queue_segments: int = Field(default=256, ge=1, le=1_000_000)
    #: Longest estimated queue wait an interactive request accepts before it is refused (503).
    queue_budget_ms: float = Field(default=10_000.0, ge=1.0)
    #: Longest a batching engine waits to fill a batch.
    max_queue_delay_ms: float = Field(default=10.0, ge=0.0, le=10_000.0)
    #: Upper bound on a batch (the engine's own max_batch_size also applies).
    max_batch_size: int = Field(default=8, ge=1, le=1024)
    #: After an interactive request, keep one replica of each engine that has two or more
    #: free of batch (document) work for this long, so the next interactive request starts
    #: at once instead of waiting for a batch segment (0: batch work may take every replica).
    interactive_reserve_s: float = Field(default=10.0, ge=0.0, le=3600.0)
    #: Default per-request deadline before audio starts (0: none); requests may ask for less.
    request_timeout_s: float = Field(default=0.0, ge=0.0)
    #: On SIGTERM: time given to in-flight requests before the process exits.
    shutdown_drain_s: float = Field(default=30.0, ge=0.0)

    # --- result cache and artifact storage (voxserve.cache, voxserve.storage) --------------
    #: ``memory`` (memory LRU + disk, the default), ``none``, or ``redis://host:port/db``.
    cache_url: str = "memory"
    cache_memory_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    cache_disk_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=0)
    cache_ttl_s: float = Field(default=7 * 24 * 3600.0, gt=0.0)
    cache_max_value_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    #: Redis operations slower than this count as errors; the request goes on without cache.
    cache_timeout_ms: float = Field(default=50.0, gt=0.0)
    #: ``local`` (``<data_dir>/artifacts``) or ``s3://bucket/prefix``.
    storage_url: str = "local"
    #: S3 endpoint for MinIO or other S3-compatible stores (credentials from the environment).
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    storage_url_expiry_s: int = Field(default=3600, ge=1, le=7 * 24 * 3600)

    # --- document conversion projects (voxserve.jobs) --------------------------------------
    #: SQLAlchemy URL of the job database; default SQLite at ``<data_dir>/voxserve.db``.
    #: PostgreSQL: ``postgresql+psycopg://user@host:5432/db``.
    database_url: str | None = None
    #: ``inprocess`` (the API server converts projects itself) or ``amqp://user:pass@host/``
    #: (RabbitMQ: the API publishes tasks, ``voxserve worker`` processes consume them).
    queue_url: str = "inprocess"
    queue_name: str = "voxserve.segments"
    #: Port of ``voxserve worker``'s Prometheus ``/metrics`` endpoint (0: none).
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)
    #: Unacknowledged tasks a worker holds at once (RabbitMQ prefetch); 0 (auto): enough
    #: for two segments per replica of the worker's largest engine (every replica has its
    #: next segment queued), and at least two tasks (the next one starts while one ends).
    worker_prefetch: int = Field(default=0, ge=0, le=1000)
    #: Consecutive segments (of one chapter) per queue task: one message, acknowledgement
    #: and pair of transactions for several sentences. 1: a task per segment.
    segments_per_task: int = Field(default=4, ge=1, le=64)
    #: Deliveries of one task before it goes to the dead-letter queue.
    task_max_attempts: int = Field(default=5, ge=1, le=100)
    task_retry_base_delay_ms: float = Field(default=500.0, ge=0.0)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_document_chars: int = Field(default=5_000_000, ge=100)
    #: Chapters of more sentences are cut into parts (0: never): each part is encoded as
    #: soon as it is done, and assembling one loads this many stored sentences at most.
    max_chapter_segments: int = Field(default=600, ge=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0.0)
    webhook_max_attempts: int = Field(default=5, ge=1, le=20)
    #: Signs every webhook (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``,
    #: ``webhook-signature: v1,<base64 HMAC-SHA256>``); ``whsec_<base64 of 24-64 random
    #: bytes>``. Unset: webhooks are sent unsigned (a warning at start-up).
    webhook_secret: SecretStr | None = None
    #: Webhook targets allowed although they are not public addresses: host names, or
    #: addresses and networks (``10.1.2.0/24``). Everything else that resolves to a
    #: loopback, private, link-local, unique-local, multicast or reserved address is refused.
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # --- security (voxserve.security) --------------------------------------------------------
    #: ``none`` (default; then bind to 127.0.0.1 unless told otherwise), ``api_key`` or ``jwt``.
    auth: Literal["none", "api_key", "jwt"] = "none"
    #: Hashed API keys of the embedded default; default ``<data_dir>/api_keys.json``.
    api_keys_file: Path | None = None
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    #: HS256 secret (at least 32 characters; placeholders such as "changeme" are refused).
    jwt_secret: SecretStr | None = None
    #: PEM public key for RS256/ES256, or a JWKS JSON file.
    jwt_public_key_file: Path | None = None
    jwt_jwks_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_s: float = Field(default=30.0, ge=0.0, le=600.0)
    #: JWT claim holding the scopes (space-separated string or list).
    jwt_scope_claim: str = "scope"
    #: Per key (or per client address without auth); 0 disables that limit.
    rate_limit_requests_per_minute: int = Field(default=600, ge=0)
    rate_limit_chars_per_minute: int = Field(default=200_000, ge=0)
    rate_limit_concurrent_streams: int = Field(default=8, ge=0)
    #: ``memory`` (per process) or ``redis://…`` (shared by every replica).
    rate_limit_storage_url: str = "memory"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_json_depth: int = Field(default=16, ge=2, le=256)
    #: Values (and keys) a JSON body may hold: parsing millions of tiny ones takes seconds.
    max_json_values: int = Field(default=10_000, ge=100, le=10_000_000)
    #: ``none``, ``file`` (JSON lines at ``audit_log_file``) or ``database``.
    audit_log: Literal["none", "file", "database"] = "file"
    audit_log_file: Path | None = None
    #: Put request text in audit records (off: only its length and SHA-256).
    audit_log_text: bool = False

    # --- gRPC API (voxserve.rpc; issue 20) ------------------------------------------------
    #: Serve the gRPC API (``voxserve.v1.Speech``, health, reflection) on this port, in the
    #: same process and event loop as HTTP (same bind address, TLS certificate, auth and
    #: limits). Unset (the default) or 0: no gRPC.
    grpc_port: int | None = Field(default=None, ge=0, le=65535)
    #: Largest request message the server accepts (RESOURCE_EXHAUSTED beyond).
    grpc_max_receive_message_bytes: int = Field(default=1024 * 1024, ge=4096, le=64 * 2**20)
    #: Largest reply message: bounds SynthesizeUnary's whole audio (streamed chunks are
    #: at most 256 KiB each).
    grpc_max_send_message_bytes: int = Field(default=16 * 2**20, ge=1024 * 1024,
                                             le=256 * 2**20)
    #: The server pings a connection after this long without activity, and closes it when
    #: the ping is not answered within ``grpc_keepalive_timeout_s``.
    grpc_keepalive_time_s: float = Field(default=60.0, ge=1.0, le=7200.0)
    grpc_keepalive_timeout_s: float = Field(default=20.0, ge=1.0, le=600.0)
    #: Clients may ping at most this often; more often and the server closes the connection
    #: (GOAWAY ``too_many_pings``). Clients' keepalive_time_ms must not be below it.
    grpc_keepalive_min_ping_interval_s: float = Field(default=10.0, ge=1.0, le=3600.0)
    #: On shutdown, after the drain: time running calls still get before they are cancelled.
    grpc_stop_grace_s: float = Field(default=5.0, ge=0.0, le=600.0)
    # --- WebSocket streaming input (/v1/audio/speech/stream; issue 21) ------------------
    #: Text that stalls this long mid-sentence is spoken up to its last clause boundary.
    ws_stall_s: float = Field(default=0.6, gt=0.0, le=60.0)
    #: Largest client message (a bigger one closes the connection with 1009).
    ws_max_message_bytes: int = Field(default=65_536, ge=1024, le=16_777_216)
    #: Client messages per second at most, averaged over a second (more: close 1008).
    ws_max_messages_per_s: int = Field(default=200, ge=1, le=100_000)
    #: A connection with no client message for this long is closed (1008).
    ws_idle_timeout_s: float = Field(default=60.0, gt=0.0, le=3600.0)
    #: Time for the first message (config, with the token when no header carried one).
    ws_auth_timeout_s: float = Field(default=10.0, gt=0.0, le=300.0)
    #: A client that reads no audio for this long is closed (1008); until then it is paused.
    ws_send_timeout_s: float = Field(default=30.0, gt=0.0, le=3600.0)
    #: Complete pieces waiting to be spoken at most; past that the server stops reading.
    ws_max_pending_pieces: int = Field(default=8, ge=1, le=1000)
    #: Browser origins allowed besides the server's own (``Origin`` matching ``Host``).
    ws_allowed_origins: list[str] = Field(default_factory=list)

    # --- maya1 engine (voxserve.engines.maya1; needs the ``maya1`` extra) ------------------
    #: Directory with the Maya1 LLM in transformers layout; default ``<models_dir>/maya1``.
    maya1_model_dir: Path | None = None
    #: Directory with the SNAC 24 kHz codec (config.json + pytorch_model.bin).
    maya1_snac_dir: Path | None = None
    maya1_backend: Literal["transformers", "vllm"] = "transformers"
    #: ``auto`` (cuda when available), ``cpu``, ``cuda``, ``cuda:1`` …
    maya1_device: str = "auto"
    maya1_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    maya1_max_new_tokens: int = Field(default=2048, ge=28, le=16384)
    maya1_min_new_tokens: int = Field(default=28, ge=0, le=16384)
    maya1_temperature: float = Field(default=0.4, gt=0.0, le=2.0)
    maya1_top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    maya1_repetition_penalty: float = Field(default=1.1, ge=1.0, le=2.0)
    #: A token outside its frame slot's range: ``repair`` (a code of another slot keeps its
    #: code in its own slot, a non-code skips the frame) or ``skip`` (the frame); never fatal.
    maya1_stray_tokens: Literal["repair", "skip"] = "repair"
    #: Put BOS before the text (True/False), or follow the tokenizer (None, as the reference).
    maya1_prompt_leading_bos: bool | None = None
    #: Named voice descriptions offered as voices (a request's ``instructions`` overrides).
    maya1_voices: dict[str, str] = Field(default_factory=lambda: {
        "maya1-warm": "40-year-old, warm, low pitch, conversational",
        "maya1-bright": "25-year-old female, bright, energetic, clear",
    })
    #: Weight-only quantization of the transformers backend's LM: ``int8`` (torchao, the
    #: ``maya1-int8`` extra; activations stay bf16/fp32) or ``none``.
    maya1_quantization: Literal["none", "int8"] = "none"
    #: SNAC windows decoded together at most (all streams of the engine share the batch).
    maya1_snac_batch_max_windows: int = Field(default=64, ge=1, le=1024)
    #: Longest a window waits for other streams' windows before its batch is decoded; a
    #: batch goes at once when every open stream has a window waiting.
    maya1_snac_batch_wait_ms: float = Field(default=10.0, ge=0.0, le=1000.0)
    maya1_vllm_gpu_memory_utilization: float = Field(default=0.85, gt=0.0, le=1.0)
    maya1_vllm_max_model_len: int = Field(default=8192, ge=256)
    #: vLLM's own ``quantization`` method, passed through (e.g. ``fp8``,
    #: ``int8_per_channel_weight_only``); unset: the checkpoint's (none for Maya1).
    maya1_vllm_quantization: str | None = None

    # --- model repository (issue 19: versioned, hot-swappable models) -------------------
    #: Where model versions live (``<model>/<version>/`` + ``manifest.json``, an ``active.json``
    #: pointer per model): a directory, or ``s3://bucket/prefix`` (the ``s3`` extra; the
    #: ``VOXSERVE_S3_*`` endpoint settings apply); default the models directory
    #: (``<data_dir>/models``), where Piper voices in the old flat layout are still found.
    model_repository: str | None = None
    #: Unload a repository model version unused for this long (it loads again on the next
    #: request, which waits for it); 0: never.
    model_idle_unload_s: float = Field(default=0.0, ge=0.0)
    #: Refuse to load a version when the loaded versions' file bytes (times the engine's
    #: replicas) would exceed this; 0: no budget.
    model_memory_bytes: int = Field(default=0, ge=0)
    #: Re-read every model's active pointer this often and follow it (pods sharing one
    #: repository pick up an activation); 0: only on an admin request.
    model_poll_s: float = Field(default=0.0, ge=0.0)
    #: The MLflow tracking server whose Model Registry ``voxserve models import
    #: mlflow:models:/NAME@ALIAS`` reads (the ``mlflow`` extra), e.g. ``http://mlflow:5000``.
    mlflow_tracking_uri: str | None = None
    #: What a voice's preview clip (``GET /v1/voices/{id}/preview``) says.
    model_preview_text: str = Field(
        default="Hello! This is a short preview of my voice.", min_length=1, max_length=400
    )

    #: Per-engine scheduling overrides, e.g. ``{"maya1": {"queue_budget_ms": 3000}}``.
    engine_overrides: dict[str, EngineOverrides] = Field(default_factory=dict)

    def scheduling_for(self, engine: str) -> EngineScheduling:
        """The scheduling settings of ``engine``: its overrides where set, else the global
        ones (and :meth:`replicas_for`)."""
        overrides = self.engine_overrides.get(engine) or EngineOverrides()

        def pick(name: str) -> Any:
            value = getattr(overrides, name)
            return getattr(self, name) if value is None else value

        return EngineScheduling(
            replicas=self.replicas_for(engine),
            max_queue_segments=pick("max_queue_segments"),
            queue_budget_ms=pick("queue_budget_ms"),
            max_batch_size=pick("max_batch_size"),
            max_queue_delay_ms=pick("max_queue_delay_ms"),
        )

    def replicas_for(self, engine: str) -> int:
        """Replicas of ``engine``: its override, else ``engine_replicas``, else automatic."""
        overrides = self.engine_overrides.get(engine)
        if overrides and overrides.replicas:
            return overrides.replicas
        if self.engine_replicas:
            return self.engine_replicas
        return min(usable_cpus(), _MAX_AUTO_REPLICAS) if engine in _CPU_ENGINES else 1

    @property
    def task_concurrency(self) -> int:
        """Segment tasks one process works on at once: ``worker_prefetch``, or enough for
        two segments per replica of its largest engine (one running, one queued behind it),
        and at least two."""
        if self.worker_prefetch:
            return self.worker_prefetch
        segments = 2 * max((self.replicas_for(name) for name in self.engines), default=1)
        return max(2, -(-segments // self.segments_per_task))

    @property
    def resolved_piper_intra_op_threads(self) -> int:
        """Threads per Piper session: the setting, or the cores shared among the replicas."""
        if self.piper_intra_op_threads:
            return self.piper_intra_op_threads
        return max(1, usable_cpus() // self.replicas_for("piper"))

    def wide_threads_for(self, engine: str) -> int:
        """Intra-op threads of ``engine``'s all-core instance, or 0 for none: only CPU
        engines with adaptive threads on, two replicas or more, and more usable cores than
        one replica's threads."""
        if not self.adaptive_threads or engine not in _CPU_ENGINES or self.piper_use_cuda:
            return 0
        cpus = usable_cpus()
        if self.replicas_for(engine) < 2 or cpus <= self.resolved_piper_intra_op_threads:
            return 0
        return cpus

    @field_validator("engines", "forwarded_allow_ips", "webhook_allowed_hosts",
                     "ws_allowed_origins", mode="before")
    @classmethod
    def _split_comma_lists(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if not self.engines:
            raise ValueError("VOXSERVE_ENGINES must name at least one engine")
        if len(set(self.engines)) != len(self.engines):
            raise ValueError(f"VOXSERVE_ENGINES names an engine twice: {self.engines}")
        known = {f"VOXSERVE_{name.upper()}" for name in type(self).model_fields}
        unknown = sorted(k for k in os.environ if k.startswith("VOXSERVE_") and k not in known)
        if unknown:
            raise ValueError(f"unknown setting(s) in the environment: {', '.join(unknown)}")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'voxserve.db').expanduser()}"

    @cached_property
    def resolved_models_dir(self) -> Path:
        return (self.models_dir or self.data_dir / "models").expanduser()
