"""A stand-in for the parts of vLLM 0.27 – 0.32 the Maya1 backend uses (vLLM needs CUDA).

It mirrors the real interfaces, read from the vllm 0.27.1 and 0.32.0 wheels, and their
semantics where the backend depends on them:

* ``vllm.AsyncEngineArgs`` / ``vllm.SamplingParams``: dataclasses (an unknown keyword is a
  ``TypeError``) with the fields the backend passes; ``vllm.TokensPrompt`` a ``TypedDict``;
  ``vllm.sampling_params.RequestOutputKind`` (``CUMULATIVE``, ``DELTA``, ``FINAL_ONLY``).
* ``vllm.AsyncLLMEngine`` (``= AsyncLLM``): ``from_engine_args``; ``generate(prompt, params,
  request_id)`` an async generator of ``RequestOutput(outputs=[CompletionOutput(token_ids,
  finish_reason, stop_reason)], finished)``, which aborts the request when cancelled or
  closed; ``abort``; ``shutdown``; ``model_config.get_vocab_size()`` (the checkpoint's
  ``vocab_size``). Stop rules of ``check_stop``: the stop token is part of ``token_ids``; the
  model's own EOS (``<|eot_id|>`` for Maya1's tokenizer) also stops; then ``max_tokens``.
* Custom logits processors loaded from ``module:Class`` names with vLLM's subclass checks,
  ``validate_params`` run at admission. Model runner: ``VLLM_USE_V2_MODEL_RUNNER`` when set,
  else V2 if this release's MRv2 takes custom processors (``mrv2_processors``), else V1 — as
  vLLM 0.27–0.30 fall back to V1 for custom processors.
* V1 runner: a persistent batch updated like ``InputBatch`` — removed rows, added requests in
  the freed rows first, the last rows moved into holes (``UNIDIRECTIONAL``) and now and then
  two rows swapped (``SWAP``); the added request's ``output_tok_ids`` is its live list; the
  built-in min-tokens processor before the custom ones.
* MRv2: recycled request slots, ``add_request`` on admission, ``apply_staged_writes`` each
  step, ``apply(logits, ctx)`` over rows in a new order every step with ``pos`` and
  ``req_states.prompt_len``; ``allowed_token_ids`` limited to 1024 ids (``ValueError``).

The "model" is adversarial: its logits favour a text token, the tokenizer's EOS and the codes
of the *next* frame slot, so every token lands wrong unless the slot mask works.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import enum
import importlib
import importlib.machinery
import json
import os
import random
import sys
import types
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch

from voxserve.engines.maya1.tokens import Maya1Tokens

TOKENS = Maya1Tokens()
TOKENIZER_EOS = 128009
TEXT_TOKEN = 500
MAX_NUM_ALLOWED_TOKEN_IDS = 1024


# --- vllm.sampling_params, vllm.inputs, vllm.outputs ------------------------------------------

class RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


@dataclasses.dataclass
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop_token_ids: list[int] | None = None
    max_tokens: int | None = 16
    min_tokens: int = 0
    detokenize: bool = True
    skip_special_tokens: bool = True
    output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE
    allowed_token_ids: list[int] | None = None
    extra_args: dict[str, Any] | None = None

    @property
    def all_stop_token_ids(self) -> set[int]:
        return {*(self.stop_token_ids or ()), TOKENIZER_EOS}


class TokensPrompt(TypedDict):
    prompt_token_ids: list[int]


@dataclasses.dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclasses.dataclass
class RequestOutput:
    request_id: str
    outputs: list[CompletionOutput]
    finished: bool


@dataclasses.dataclass
class AsyncEngineArgs:
    model: str
    tokenizer: str | None = None
    dtype: str = "auto"
    quantization: str | None = None
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    logits_processors: list[str | type] | None = None
    disable_log_stats: bool = False
    seed: int = 0


# --- vllm.v1.sample.logits_processor (V1 runner) ----------------------------------------------

class MoveDirectionality(enum.Enum):
    UNIDIRECTIONAL = enum.auto()
    SWAP = enum.auto()


@dataclasses.dataclass(frozen=True)
class BatchUpdate:
    batch_size: int
    removed: Sequence[int]
    added: Sequence[tuple[int, SamplingParams, list[int] | None, list[int]]]
    moved: Sequence[tuple[int, int, MoveDirectionality]]


class V1LogitsProcessor(abc.ABC):
    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        return None

    @abc.abstractmethod
    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None: ...

    @abc.abstractmethod
    def apply(self, logits: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def is_argmax_invariant(self) -> bool: ...

    @abc.abstractmethod
    def update_state(self, batch_update: BatchUpdate | None) -> None: ...


# --- vllm.v1.worker.gpu.sample.logits_processor (Model Runner V2, vLLM ≥ 0.31) -----------------

class _UvaBacked:
    """``UvaBackedTensor``: ``.np`` host array, ``.gpu`` the device view (a copy here)."""

    def __init__(self, size: int) -> None:
        self.np = np.zeros(size, dtype=np.int32)
        self.gpu = torch.from_numpy(self.np.copy())

    def copy_to_uva(self) -> None:
        self.gpu = torch.from_numpy(self.np.copy())


@dataclasses.dataclass(frozen=True)
class LogitsProcRequestState:
    device: torch.device
    max_num_reqs: int
    vocab_size: int
    prompt_len: _UvaBacked


@dataclasses.dataclass(frozen=True)
class LogitsContext:
    expanded_idx_mapping: torch.Tensor
    idx_mapping: torch.Tensor
    idx_mapping_np: np.ndarray
    expanded_local_pos: torch.Tensor
    input_ids: torch.Tensor
    pos: torch.Tensor
    seq_lens_upper_bound_np: np.ndarray


class V2LogitsProcessor(abc.ABC):
    def __init__(self, vllm_config: Any, req_states: LogitsProcRequestState) -> None:
        return None

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        return None

    def add_request(self, req_idx: int, sampling_params: SamplingParams) -> bool:
        return True

    def apply_staged_writes(self) -> None:
        return None

    @abc.abstractmethod
    def apply(self, logits: torch.Tensor, ctx: LogitsContext) -> torch.Tensor: ...


# --- the engine -----------------------------------------------------------------------------

@dataclasses.dataclass
class _Request:
    request_id: str
    prompt: list[int]
    params: SamplingParams
    output: list[int] = dataclasses.field(default_factory=list)
    sent: int = 0
    finished: bool = False
    finish_reason: str | None = None
    stop_reason: int | None = None
    row: int | None = None
    outputs: asyncio.Queue[RequestOutput | BaseException] = dataclasses.field(
        default_factory=asyncio.Queue)


class AsyncLLM:
    """``AsyncLLM`` on one event loop, with a step loop over a persistent batch."""

    mrv2_processors = True
    step_s = 0.001

    def __init__(self, args: AsyncEngineArgs) -> None:
        self.args = args
        config = json.loads((Path(args.model) / "config.json").read_text())
        self.model_config = types.SimpleNamespace(get_vocab_size=lambda: config["vocab_size"])
        self.vocab_size = int(config["vocab_size"])
        env = os.environ.get("VLLM_USE_V2_MODEL_RUNNER")
        self.runner = ("v2" if env == "1" else "v1") if env is not None else (
            "v2" if self.mrv2_processors else "v1")
        if self.runner == "v2" and not self.mrv2_processors and args.logits_processors:
            raise ValueError("Model Runner V2 does not yet support custom logits processors")
        self.processor_classes = [self._load(name) for name in args.logits_processors or ()]
        self.params: list[SamplingParams] = []
        self.prompts: list[Any] = []
        self.aborted: list[str] = []
        self.shut_down = False
        self.max_batch = 0
        self._waiting: list[_Request] = []
        self._running: dict[str, _Request] = {}
        self._rows: list[_Request | None] = []
        self._removed: list[int] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._rng = random.Random(0)
        self._torch_rng = torch.Generator().manual_seed(0)
        self._prompt_len = _UvaBacked(256)
        self._slots_free = list(range(256))
        self.processors = [self._instantiate(cls) for cls in self.processor_classes]

    @classmethod
    def from_engine_args(cls, engine_args: AsyncEngineArgs, start_engine_loop: bool = True,
                         usage_context: Any = None, stat_loggers: Any = None) -> AsyncLLM:
        return cls(engine_args)

    def _load(self, name: str | type) -> type:
        base = V2LogitsProcessor if self.runner == "v2" else V1LogitsProcessor
        if isinstance(name, type):
            cls = name
        else:
            module_path, qualname = name.split(":")
            cls = getattr(importlib.import_module(module_path), qualname)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ValueError(f"{cls} is not a subclass of the {self.runner} LogitsProcessor")
        return cls

    def _instantiate(self, cls: type) -> Any:
        config = types.SimpleNamespace(model_config=self.model_config)
        if self.runner == "v2":
            state = LogitsProcRequestState(torch.device("cpu"), 256, self.vocab_size,
                                           self._prompt_len)
            return cls(config, state)
        return cls(config, torch.device("cpu"), False)

    # --- public API ---------------------------------------------------------------------

    async def generate(self, prompt: Any, sampling_params: SamplingParams, request_id: str,
                       **_: Any) -> AsyncIterator[RequestOutput]:
        request = self._admit(prompt, sampling_params, request_id)
        try:
            while True:
                item = await request.outputs.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.finished:
                    return
        except (asyncio.CancelledError, GeneratorExit):
            if not request.finished:
                await self.abort(request_id)
            raise

    async def abort(self, request_id: str | Sequence[str], internal: bool = False) -> None:
        for rid in [request_id] if isinstance(request_id, str) else request_id:
            request = self._running.pop(rid, None)
            if request is not None and not request.finished:
                request.finished = True
                self.aborted.append(rid)

    def shutdown(self, timeout: float | None = None) -> None:
        self.shut_down = True  # the step loop ends at its next step

    # --- admission and the step loop -------------------------------------------------------

    def _admit(self, prompt: Any, params: SamplingParams, request_id: str) -> _Request:
        if not isinstance(prompt, dict) or "prompt_token_ids" not in prompt:
            raise TypeError(f"unsupported prompt {prompt!r}")
        for cls in self.processor_classes:
            cls.validate_params(params)  # ValueError: a request error, as in vLLM
        for token in params.allowed_token_ids or ():
            if not 0 <= token < self.vocab_size:
                raise ValueError("allowed_token_ids contains out-of-vocab token id!")
        if self.runner == "v2" and len(params.allowed_token_ids or ()) > MAX_NUM_ALLOWED_TOKEN_IDS:
            raise ValueError(f"Too many allowed token IDs: {len(params.allowed_token_ids or ())}")
        if prompt["prompt_token_ids"] and prompt["prompt_token_ids"][0] == -1:
            raise RuntimeError("engine exploded")
        self.params.append(params)
        self.prompts.append(prompt)
        request = _Request(request_id, list(prompt["prompt_token_ids"]), params)
        self._running[request_id] = request
        self._waiting.append(request)
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._step_loop())
        return request

    async def _step_loop(self) -> None:
        while not self.shut_down and (self._running or any(self._rows)):
            await asyncio.sleep(self.step_s)
            self._step()

    def _step(self) -> None:
        update = self._update_batch()
        active = [request for request in self._rows if request is not None]
        self.max_batch = max(self.max_batch, len(active))
        if not active:
            return
        logits = self._model_logits(active)
        if self.runner == "v1":
            logits = self._apply_v1(logits, update)
            rows = list(range(len(self._rows)))
        else:
            logits, rows = self._apply_v2(logits, active)
        for index, row in enumerate(rows):
            request = self._rows[row] if self.runner == "v1" else active[row]
            if request is None:
                continue
            probs = torch.softmax(logits[index] / max(request.params.temperature, 1e-5), -1)
            token = int(torch.multinomial(probs, 1, generator=self._torch_rng))
            self._advance(request, token)

    def _update_batch(self) -> BatchUpdate:
        """``InputBatch``'s bookkeeping: free finished rows, add, condense, swap."""
        removed = []
        for row, request in enumerate(self._rows):
            if request is not None and request.finished:
                self._rows[row] = None
                removed.append(row)
                if self.runner == "v2":
                    self._slots_free.append(request.row or 0)
        holes = sorted(removed)
        added = []
        for request in self._waiting:
            if request.finished:
                continue
            row = holes.pop(0) if holes else len(self._rows)
            if row == len(self._rows):
                self._rows.append(None)
            self._rows[row] = request
            added.append((row, request.params, request.prompt, request.output))
            if self.runner == "v2":
                slot = self._slots_free.pop(0)
                request.row = slot
                self._prompt_len.np[slot] = len(request.prompt)
                for processor in self.processors:
                    processor.add_request(slot, request.params)
        self._waiting = []
        moved = []
        while holes:  # condense: the last live row moves into the first hole
            hole = holes.pop(0)
            last = max((r for r, q in enumerate(self._rows) if q is not None), default=-1)
            if last > hole:
                self._rows[hole], self._rows[last] = self._rows[last], None
                moved.append((last, hole, MoveDirectionality.UNIDIRECTIONAL))
                holes.append(last)
                holes.sort()
        while self._rows and self._rows[-1] is None:
            self._rows.pop()
        live = [r for r, q in enumerate(self._rows) if q is not None]
        if len(live) >= 2 and self._rng.random() < 0.3:  # a reorder, as for prefill/decode
            a, b = self._rng.sample(live, 2)
            self._rows[a], self._rows[b] = self._rows[b], self._rows[a]
            moved.append((a, b, MoveDirectionality.SWAP))
        return BatchUpdate(len(self._rows), [r for r in removed if r not in
                                             {a[0] for a in added}], added, moved)

    def _model_logits(self, active: list[_Request]) -> torch.Tensor:
        logits = torch.randn((len(self._rows) if self.runner == "v1" else len(active),
                              self.vocab_size), generator=self._torch_rng)
        rows = self._rows if self.runner == "v1" else active
        for index, request in enumerate(rows):
            if request is None:
                continue
            wrong = TOKENS.slot_start((len(request.output) + 1) % 7)
            logits[index, wrong:wrong + 4096] += 8.0
            logits[index, TEXT_TOKEN] += 20.0
            logits[index, TOKENIZER_EOS] += 15.0
            logits[index, TOKENS.eos_audio] += 4.0
        return logits

    def _apply_v1(self, logits: torch.Tensor, update: BatchUpdate) -> torch.Tensor:
        for processor in self.processors:
            processor.update_state(update)
        for row, request in enumerate(self._rows):  # built-in: allowed ids, min tokens
            if request is None:
                continue
            self._builtins(logits[row], request)
        for processor in self.processors:
            logits = processor.apply(logits)
        return logits

    def _apply_v2(self, logits: torch.Tensor, active: list[_Request]
                  ) -> tuple[torch.Tensor, list[int]]:
        order = list(range(len(active)))
        self._rng.shuffle(order)
        logits = logits[order]
        self._prompt_len.copy_to_uva()
        for processor in self.processors:
            processor.apply_staged_writes()
        for index, position in enumerate(order):
            self._builtins(logits[index], active[position])
        slots = torch.tensor([active[i].row for i in order], dtype=torch.int32)
        pos = torch.tensor([len(active[i].prompt) + len(active[i].output) - 1 for i in order])
        ctx = LogitsContext(slots, slots, slots.numpy(), torch.zeros_like(slots),
                            torch.zeros_like(slots), pos, pos.numpy() + 1)
        for processor in self.processors:
            logits = processor.apply(logits, ctx)
        return logits, order

    def _builtins(self, row: torch.Tensor, request: _Request) -> None:
        params = request.params
        if params.allowed_token_ids:
            keep = torch.zeros_like(row, dtype=torch.bool)
            keep[params.allowed_token_ids] = True
            row.masked_fill_(~keep, float("-inf"))
        if len(request.output) < params.min_tokens:
            row[list(params.all_stop_token_ids)] = float("-inf")

    def _advance(self, request: _Request, token: int) -> None:
        if request.finished:
            return
        request.output.append(token)
        params = request.params
        if token == TOKENIZER_EOS or token in (params.stop_token_ids or ()):
            request.finished, request.finish_reason = True, "stop"
            request.stop_reason = None if token == TOKENIZER_EOS else token
        elif len(request.output) >= (params.max_tokens or 16):
            request.finished, request.finish_reason = True, "length"
        if request.finished:
            self._running.pop(request.request_id, None)
        if params.output_kind == RequestOutputKind.FINAL_ONLY and not request.finished:
            return
        if params.output_kind == RequestOutputKind.DELTA:
            ids, request.sent = request.output[request.sent:], len(request.output)
        else:
            ids = list(request.output)
        output = CompletionOutput(0, "", ids, None, None, request.finish_reason,
                                  request.stop_reason)
        request.outputs.put_nowait(RequestOutput(request.request_id, [output], request.finished))


# --- installing the modules -------------------------------------------------------------------

def _module(name: str, package: bool = False, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=package)
    if package:
        module.__path__ = []
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


_V1 = _module("vllm.v1.sample.logits_processor", LogitsProcessor=V1LogitsProcessor,
              BatchUpdate=BatchUpdate, MoveDirectionality=MoveDirectionality)
_V2 = _module("vllm.v1.worker.gpu.sample.logits_processor", LogitsProcessor=V2LogitsProcessor,
              LogitsContext=LogitsContext, LogitsProcRequestState=LogitsProcRequestState)


def modules(*, mrv2_processors: bool) -> dict[str, types.ModuleType]:
    """``sys.modules`` entries of a fake vLLM like 0.31–0.32 (``mrv2_processors``) or
    0.27–0.30 (no custom processors on Model Runner V2)."""
    engine_class = type("AsyncLLM", (AsyncLLM,), {"mrv2_processors": mrv2_processors})
    found = {
        "vllm": _module("vllm", package=True, AsyncEngineArgs=AsyncEngineArgs,
                        SamplingParams=SamplingParams, TokensPrompt=TokensPrompt,
                        AsyncLLMEngine=engine_class),
        "vllm.sampling_params": _module("vllm.sampling_params",
                                        RequestOutputKind=RequestOutputKind,
                                        SamplingParams=SamplingParams),
        "vllm.v1": _module("vllm.v1", package=True),
        "vllm.v1.sample": _module("vllm.v1.sample", package=True),
        "vllm.v1.sample.logits_processor": _V1,
        "vllm.v1.worker": _module("vllm.v1.worker", package=True),
        "vllm.v1.worker.gpu": _module("vllm.v1.worker.gpu", package=True),
        "vllm.v1.worker.gpu.sample": _module("vllm.v1.worker.gpu.sample", package=True),
    }
    if mrv2_processors:
        found["vllm.v1.worker.gpu.sample.logits_processor"] = _V2
    return found


def installed() -> bool:
    return isinstance(sys.modules.get("vllm"), types.ModuleType) and hasattr(
        sys.modules["vllm"], "AsyncLLMEngine")
