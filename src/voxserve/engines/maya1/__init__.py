"""Maya1 text-to-speech (``maya-research/maya1`` + SNAC 24 kHz); needs the ``maya1`` extra.

Modules, one idea each: :mod:`.tokens` (ids), :mod:`.prompt` (prompt ids), :mod:`.frames`
(7-token frames ↔ SNAC levels), :mod:`.sampling` (the audio-token sampler), :mod:`.codec`
(SNAC and the streaming window decoder), :mod:`.backends` (transformers, vLLM),
:mod:`.engine` (the ``Engine``).
"""

from voxserve.engines.maya1.engine import Maya1Engine
from voxserve.engines.maya1.options import Maya1Options

__all__ = ["Maya1Engine", "Maya1Options"]
