"""What every replica of a Maya1 engine in one process shares: the LM, SNAC, the decode batch.

The scheduler runs one thread per engine replica. For Piper each replica is a model of its
own; a GPU LLM must be loaded once and fed by many threads, so Maya1 engines created with
the same ``maya1_*`` settings share one :class:`Maya1Runtime` (reference-counted):
``VOXSERVE_ENGINE_OVERRIDES='{"maya1": {"replicas": 16}}'`` means up to 16 segments stream
at once from one loaded model — one vLLM engine batching their steps continuously, or the
transformers model serving each thread — and their SNAC windows meet in one
:class:`~.snac_batcher.DecodeBatcher`. The last engine to close closes the runtime, which
ends every stream still running with ``EngineFailed``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import torch

from voxserve.engines.maya1.backends import Backend, load_backend
from voxserve.engines.maya1.codec import SnacCodec, read_snac_config
from voxserve.engines.maya1.device import resolve_device
from voxserve.engines.maya1.model_dir import load_tokenizer, read_model_config
from voxserve.engines.maya1.prompt import PromptBuilder, check_emotion_tags
from voxserve.engines.maya1.snac_batcher import DecodeBatcher
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Maya1Runtime:
    """The loaded pieces, shared by the replicas (each piece is thread-safe)."""

    prompts: PromptBuilder
    backend: Backend
    codec: SnacCodec
    batcher: DecodeBatcher
    device: torch.device
    #: The LM's dtype; ``None``: chosen by vLLM.
    dtype: torch.dtype | None

    @classmethod
    def load(cls, settings: Settings, tokens: Maya1Tokens, model_dir: Path,
             snac_dir: Path) -> Maya1Runtime:
        """Validate both directories, load LM and SNAC (``EngineLoadError``)."""
        read_model_config(model_dir, tokens)
        snac_config = read_snac_config(snac_dir)
        tokenizer = load_tokenizer(model_dir)
        check_emotion_tags(tokenizer)
        prompts = PromptBuilder(tokenizer, tokens)
        device, dtype = resolve_device(settings.maya1_device, settings.maya1_dtype,
                                       backend=settings.maya1_backend)
        # The LM first: vLLM starts its workers before anything else touches CUDA.
        backend = load_backend(settings, model_dir, tokens, device, dtype)
        try:
            codec = SnacCodec.load(snac_dir, snac_config, device)
        except BaseException:
            backend.close()
            raise
        batcher = DecodeBatcher(
            codec.decode_many, max_windows=settings.maya1_snac_batch_max_windows,
            max_wait_s=settings.maya1_snac_batch_wait_ms / 1000,
        )
        return cls(prompts, backend, codec, batcher, device, dtype)

    def close(self) -> None:
        """Stop generating (running streams end with ``EngineFailed``), then decoding."""
        try:
            self.backend.close()
        finally:
            self.batcher.close()


_lock = threading.Lock()
_shared: dict[Hashable, tuple[Maya1Runtime, int]] = {}


def runtime_key(settings: Settings, tokens: Maya1Tokens, model_dir: Path,
                snac_dir: Path) -> Hashable:
    """Engines with equal keys share a runtime: the same directories, tokens and settings."""
    maya1 = settings.model_dump_json(include={n for n in type(settings).model_fields
                                               if n.startswith("maya1_")})
    return (str(model_dir), str(snac_dir), tokens, maya1)


def acquire(key: Hashable, settings: Settings, tokens: Maya1Tokens, model_dir: Path,
            snac_dir: Path) -> tuple[Maya1Runtime, bool]:
    """The runtime for ``key``, loaded if no engine holds it; ``(runtime, newly loaded)``.

    Loading happens under the lock: replicas created together load the model once.
    """
    with _lock:
        held = _shared.get(key)
        if held is not None:
            runtime, count = held
            _shared[key] = (runtime, count + 1)
            return runtime, False
        runtime = Maya1Runtime.load(settings, tokens, model_dir, snac_dir)
        _shared[key] = (runtime, 1)
        return runtime, True


def release(key: Hashable, runtime: Maya1Runtime) -> None:
    """Drop one hold; the last one closes the runtime."""
    with _lock:
        held = _shared.get(key)
        if held is None or held[0] is not runtime:
            last = True  # a private runtime (not shared)
        else:
            count = held[1] - 1
            last = count == 0
            if last:
                del _shared[key]
            else:
                _shared[key] = (runtime, count)
    if last:
        runtime.close()
