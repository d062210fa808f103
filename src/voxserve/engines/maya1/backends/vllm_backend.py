"""The GPU serving backend: vLLM's ``AsyncLLMEngine`` (continuous batching).

Imported only when ``maya1_backend == "vllm"``. vLLM's engine lives on an asyncio loop that
runs in one background thread; every ``stream`` call (from any worker thread) submits its
request to that loop, so concurrent segments share the GPU through vLLM's continuous
batching, and reads the growing ``outputs[0].token_ids`` through a queue. Closing the
iterator cancels the request's task, which makes vLLM abort the request.

Unlike the transformers backend, vLLM gets no per-step slot mask: ``allowed_token_ids``
restricts sampling to the SNAC code range plus EOS_AUDIO (the documented mask), and the
engine's frame checks (strict or lenient) deal with a code in the wrong slot. EOS_AUDIO is the
only stop id and ``min_tokens`` holds it back for the first frames.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from voxserve.engines.maya1.backends import GenerationRequest
from voxserve.engines.maya1.sampling import SamplingConfig
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineFailed, EngineLoadError

if TYPE_CHECKING:
    from voxserve.settings import Settings

_VLLM_DTYPES = {torch.bfloat16: "bfloat16", torch.float16: "float16", torch.float32: "float32"}
_SHUTDOWN_TIMEOUT_S = 30.0


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise EngineLoadError(
            "maya1: VOXSERVE_MAYA1_BACKEND is 'vllm' but vllm is not installed "
            f"({exc}); install vllm on the CUDA host or use the 'transformers' backend"
        ) from exc
    return vllm


class VllmBackend:
    """Maya1 through vLLM; thread-safe, any number of concurrent streams."""

    def __init__(
        self, vllm: Any, engine: Any, loop: asyncio.AbstractEventLoop,
        thread: threading.Thread, tokens: Maya1Tokens,
    ) -> None:
        self._vllm = vllm
        self._engine = engine
        self._loop = loop
        self._thread = thread
        self._eos = tokens.eos_audio
        self._allowed_ids = [tokens.eos_audio, *range(tokens.first_code, tokens.code_end)]

    @classmethod
    def load(
        cls, settings: Settings, model_dir: Path, tokens: Maya1Tokens,
        device: torch.device, dtype: torch.dtype,
    ) -> VllmBackend:
        vllm = _import_vllm()
        if device.type != "cuda" or (device.index or 0) != 0:
            raise EngineLoadError(
                f"maya1: the vllm backend runs on the first visible CUDA device, not {device} "
                "(pick the GPU with CUDA_VISIBLE_DEVICES and set VOXSERVE_MAYA1_DEVICE=cuda)"
            )
        args = vllm.AsyncEngineArgs(
            model=str(model_dir),
            tokenizer=str(model_dir),
            dtype=_VLLM_DTYPES[dtype],
            gpu_memory_utilization=settings.maya1_vllm_gpu_memory_utilization,
            max_model_len=settings.maya1_vllm_max_model_len,
            disable_log_stats=True,
        )
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="maya1-vllm", daemon=True)
        thread.start()

        async def create() -> Any:
            return vllm.AsyncLLMEngine.from_engine_args(args)

        try:
            engine = asyncio.run_coroutine_threadsafe(create(), loop).result()
        except Exception as exc:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_SHUTDOWN_TIMEOUT_S)
            raise EngineLoadError(f"maya1: vllm cannot load {model_dir}: {exc}") from exc
        return cls(vllm, engine, loop, thread, tokens)

    def stream(self, request: GenerationRequest) -> Generator[int, None, None]:
        chunks: queue.Queue[list[int] | BaseException | None] = queue.Queue()
        future = asyncio.run_coroutine_threadsafe(self._pump(request, chunks), self._loop)
        try:
            while True:
                item = chunks.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise EngineFailed(f"maya1: vllm generation failed: {item}") from item
                for token in item:
                    if token == self._eos:
                        return
                    yield token
        finally:
            future.cancel()  # the task's CancelledError makes vLLM abort the request

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[list[int]]:
        async def run_all() -> list[list[int]]:
            return list(await asyncio.gather(*(self._final_ids(r) for r in requests)))

        future = asyncio.run_coroutine_threadsafe(run_all(), self._loop)
        try:
            results = future.result()
        except Exception as exc:
            raise EngineFailed(f"maya1: vllm batch generation failed: {exc}") from exc
        return [_until(ids, self._eos) for ids in results]

    def close(self) -> None:
        shutdown = getattr(self._engine, "shutdown", None)
        if shutdown is not None:
            shutdown()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_SHUTDOWN_TIMEOUT_S)

    # --- on the event loop -----------------------------------------------------------

    async def _pump(
        self, request: GenerationRequest, chunks: queue.Queue[list[int] | BaseException | None]
    ) -> None:
        """Put each step's new token ids on ``chunks``, then ``None`` (or the error)."""
        sent = 0
        try:
            async for output in self._generate(request):
                token_ids = output.outputs[0].token_ids
                if len(token_ids) > sent:
                    chunks.put(list(token_ids[sent:]))
                    sent = len(token_ids)
        except Exception as exc:
            chunks.put(exc)
            return
        chunks.put(None)

    async def _final_ids(self, request: GenerationRequest) -> list[int]:
        token_ids: list[int] = []
        async for output in self._generate(request):
            token_ids = list(output.outputs[0].token_ids)
        return token_ids

    def _generate(self, request: GenerationRequest) -> Any:
        prompt = {"prompt_token_ids": list(request.prompt_ids)}
        params = self._sampling_params(request.sampling)
        return self._engine.generate(prompt, params, uuid.uuid4().hex)

    def _sampling_params(self, sampling: SamplingConfig) -> Any:
        return self._vllm.SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            repetition_penalty=sampling.repetition_penalty,
            max_tokens=sampling.max_new_tokens,
            min_tokens=min(sampling.min_new_tokens, sampling.max_new_tokens),
            stop_token_ids=[self._eos],
            seed=sampling.seed,
            allowed_token_ids=self._allowed_ids,
            detokenize=False,
            skip_special_tokens=False,
        )


def _until(token_ids: Sequence[int], stop: int) -> list[int]:
    """``token_ids`` up to (not including) the first ``stop``."""
    ids = list(token_ids)
    return ids[:ids.index(stop)] if stop in ids else ids
