"""The GPU serving backend: vLLM's ``AsyncLLMEngine`` (continuous batching), vLLM 0.27 – 0.32.

Imported only when ``maya1_backend == "vllm"``. vLLM's engine lives on an asyncio loop that
runs in one background thread; every ``stream`` call (from any worker thread) submits its
request to that loop, so concurrent segments share the GPU through vLLM's continuous
batching, and reads the new token ids of each step (``RequestOutputKind.DELTA``) through a
queue. Closing the iterator cancels the request's task, which makes vLLM abort the request.

Every request carries the slot-aware audio mask (:mod:`..slot_mask`) as a custom logits
processor, so a code can only be sampled in its own frame slot, like on the transformers
backend. ``allowed_token_ids`` is not used: Model Runner V2 accepts at most 1024 of them and
the mask is stricter anyway. vLLM loads the processor in its engine process from a class
name; which class depends on the model runner (:func:`mask_processor`). EOS_AUDIO is the only
stop id, ``min_tokens`` holds it back for the first frames, and it is passed on to the
engine as the end of speech.

``close`` ends every stream still running with ``EngineFailed`` (never leaves a reader
waiting), aborts their requests, then shuts vLLM down; a batch with one failed request
cancels (and so aborts) the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
import queue
import threading
import uuid
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from voxserve.engines.maya1.backends import GenerationRequest
from voxserve.engines.maya1.sampling import SamplingConfig
from voxserve.engines.maya1.slot_mask import SlotLayout
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineFailed, EngineLoadError

if TYPE_CHECKING:
    from voxserve.settings import Settings

#: The supported vLLM releases (also the ``maya1-vllm`` extra's pin).
SUPPORTED_VLLM = ">=0.27,<0.33"
_VLLM_DTYPES = {torch.bfloat16: "bfloat16", torch.float16: "float16", torch.float32: "float32"}
_SHUTDOWN_TIMEOUT_S = 30.0
_RUNNER_ENV = "VLLM_USE_V2_MODEL_RUNNER"
_V2_PROCESSORS = "vllm.v1.worker.gpu.sample.logits_processor"
MASK_V1 = "voxserve.engines.maya1.backends.vllm_mask_v1:SlotMaskProcessor"
MASK_V2 = "voxserve.engines.maya1.backends.vllm_mask_v2:SlotMaskProcessor"
_Chunk = list[int] | BaseException | None


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise EngineLoadError(
            "maya1: VOXSERVE_MAYA1_BACKEND is 'vllm' but vllm is not installed "
            f"({exc}); install the 'maya1-vllm' extra (vllm{SUPPORTED_VLLM}) on the CUDA "
            "host or use the 'transformers' backend"
        ) from exc
    return vllm


def mask_processor() -> str:
    """The slot-mask class for the model runner vLLM will use, pinning that runner.

    Model Runner V2 (vLLM's default for Llama models) takes custom logits processors of its
    own interface from vLLM 0.31; older releases fall back to the V1 runner when one is
    configured. ``VLLM_USE_V2_MODEL_RUNNER``, when unset, is set to match the class chosen,
    so runner and processor always agree; when set, it is followed.
    """
    has_v2 = importlib.util.find_spec(_V2_PROCESSORS) is not None
    chosen = os.environ.get(_RUNNER_ENV)
    if chosen is None:
        os.environ[_RUNNER_ENV] = "1" if has_v2 else "0"
        return MASK_V2 if has_v2 else MASK_V1
    if chosen.strip() not in ("0", "1"):
        raise EngineLoadError(f"maya1: {_RUNNER_ENV} must be 0 or 1, not {chosen!r}")
    if chosen.strip() == "0":
        return MASK_V1
    if not has_v2:
        raise EngineLoadError(
            f"maya1: {_RUNNER_ENV}=1 but this vLLM's Model Runner V2 takes no custom logits "
            f"processors (vLLM 0.31 or later does); unset {_RUNNER_ENV}"
        )
    return MASK_V2


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
        self._layout = SlotLayout.of(tokens)
        self._delta = importlib.import_module("vllm.sampling_params").RequestOutputKind.DELTA
        self._lock = threading.Lock()
        self._closed = False
        #: Queues of the streams reading now (each gets an error if the backend closes).
        self._readers: set[queue.Queue[_Chunk]] = set()
        #: Tasks on the loop generating now (cancelled, so aborted, at close).
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    def load(
        cls, settings: Settings, model_dir: Path, tokens: Maya1Tokens,
        device: torch.device, dtype: torch.dtype | None,
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
            # auto: the checkpoint's dtype (bf16 for Maya1) where the GPU has it, else fp16
            dtype="auto" if dtype is None else _VLLM_DTYPES[dtype],
            quantization=settings.maya1_vllm_quantization,
            gpu_memory_utilization=settings.maya1_vllm_gpu_memory_utilization,
            max_model_len=settings.maya1_vllm_max_model_len,
            logits_processors=[mask_processor()],
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
        backend = cls(vllm, engine, loop, thread, tokens)
        try:
            backend._layout.check_vocabulary(engine.model_config.get_vocab_size())
        except ValueError as exc:
            backend.close()
            raise EngineLoadError(f"maya1: {model_dir}: {exc}") from exc
        return backend

    def stream(self, request: GenerationRequest) -> Generator[int, None, None]:
        chunks: queue.Queue[_Chunk] = queue.Queue()
        with self._lock:
            if self._closed:
                raise EngineFailed("maya1: the vllm backend is closed")
            self._readers.add(chunks)
            future = asyncio.run_coroutine_threadsafe(self._pump(request, chunks), self._loop)
        try:
            while True:
                item = chunks.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    if isinstance(item, EngineFailed):
                        raise item
                    raise EngineFailed(f"maya1: vllm generation failed: {item}") from item
                for token in item:
                    yield token
                    if token == self._eos:
                        return
        finally:
            future.cancel()  # the task's CancelledError makes vLLM abort the request
            with self._lock:
                self._readers.discard(chunks)

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[list[int]]:
        async def run_all() -> list[list[int]]:
            # A TaskGroup cancels the other requests (so vLLM aborts them) when one fails.
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._final_ids(r)) for r in requests]
            return [task.result() for task in tasks]

        with self._lock:
            if self._closed:
                raise EngineFailed("maya1: the vllm backend is closed")
            future = asyncio.run_coroutine_threadsafe(run_all(), self._loop)
        try:
            return future.result()
        except BaseExceptionGroup as group:
            first = _first_leaf(group)
            raise EngineFailed(f"maya1: vllm batch generation failed: {first}") from first
        except asyncio.CancelledError as exc:
            raise EngineFailed("maya1: the vllm backend closed during a batch") from exc
        except Exception as exc:
            raise EngineFailed(f"maya1: vllm batch generation failed: {exc}") from exc

    def close(self) -> None:
        """End running streams and batches (``EngineFailed``), abort them, shut vLLM down."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._thread.is_alive():
            # a wedged loop must not keep the process from stopping
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._cancel_all(), self._loop).result(
                    _SHUTDOWN_TIMEOUT_S)
        try:
            shutdown = getattr(self._engine, "shutdown", None)
            if shutdown is not None:
                shutdown()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_SHUTDOWN_TIMEOUT_S)
            with self._lock:
                readers = list(self._readers)
            for chunks in readers:  # whatever the loop did, no reader waits forever
                chunks.put(EngineFailed("maya1: the vllm backend closed while generating"))

    # --- on the event loop -----------------------------------------------------------

    async def _cancel_all(self) -> None:
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _pump(self, request: GenerationRequest, chunks: queue.Queue[_Chunk]) -> None:
        """Put each step's new token ids on ``chunks``, then ``None`` (or the error)."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            async for output in self._generate(request):
                token_ids = output.outputs[0].token_ids
                if token_ids:
                    chunks.put(list(token_ids))
        except asyncio.CancelledError:
            chunks.put(EngineFailed("maya1: the vllm request was cancelled (backend closed)"))
            raise
        except Exception as exc:
            chunks.put(exc)
        else:
            chunks.put(None)
        finally:
            self._tasks.discard(task)

    async def _final_ids(self, request: GenerationRequest) -> list[int]:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            token_ids: list[int] = []
            async for output in self._generate(request):
                token_ids.extend(output.outputs[0].token_ids)
            return _until(token_ids, self._eos)
        finally:
            self._tasks.discard(task)

    def _generate(self, request: GenerationRequest) -> Any:
        prompt = self._vllm.TokensPrompt(prompt_token_ids=list(request.prompt_ids))
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
            detokenize=False,
            skip_special_tokens=False,
            output_kind=self._delta,
            extra_args=self._layout.extra_args(),
        )


def _until(token_ids: Sequence[int], stop: int) -> list[int]:
    """``token_ids`` up to and including the first ``stop``."""
    ids = list(token_ids)
    return ids[:ids.index(stop) + 1] if stop in ids else ids


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
