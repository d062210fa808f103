"""How deeply a JSON text nests and how many values it holds, measured incrementally and in
bounded work per byte.

A guard that runs on raw request bytes before any JSON parser sees them (deeply nested JSON
makes recursive parsers slow or overflow their stack). :class:`JsonDepthScanner` takes the
text in pieces as it arrives, so a caller can stop reading as soon as the limit is passed,
and its work is a fixed number of vectorized (numpy) passes over each byte whatever the
content: no regular expression whose cost depends on what an attacker sends, and never more
than :data:`SLICE_BYTES` of temporary arrays however large a piece is.

Besides the depth it counts the text's values (:attr:`JsonDepthScanner.values`: every
``[``, ``{``, ``,`` and ``:`` outside strings, about one per value or key): parsing and
validating millions of tiny values (``["", "", …]``) costs a parser seconds per 20 MB,
while a few large strings cost next to nothing, so a caller bounds the values too.

Strings are followed the way a JSON parser does: a ``"`` opens or closes one unless an odd
run of backslashes precedes it, and brackets inside strings do not count. For valid JSON
this is exact; for invalid JSON the answer is some number (the parser refuses the text
afterwards anyway).
"""

from __future__ import annotations

import numpy as np

#: Largest piece scanned at once (bounds the temporary arrays: about 30 bytes per byte).
SLICE_BYTES = 64 * 1024

_STEP = np.zeros(256, dtype=np.int32)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
#: Characters that start a value or a key outside strings.
_VALUE = np.zeros(256, dtype=np.int32)
_VALUE[[ord("["), ord("{"), ord(","), ord(":")]] = 1
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class JsonDepthScanner:
    """Feed pieces of a JSON text with :meth:`feed`; :attr:`max_depth` is the deepest
    ``[``/``{`` nesting seen so far, :attr:`values` the ``[ { , :`` outside strings."""

    def __init__(self) -> None:
        self.max_depth = 0
        self.values = 0
        self._depth = 0
        self._in_string = False
        #: Backslashes that ended the previous piece (an escape may span two pieces).
        self._backslashes = 0

    def feed(self, data: bytes) -> int:
        """Scan the next piece; returns :attr:`max_depth` so far."""
        view = memoryview(data)
        for start in range(0, len(view), SLICE_BYTES):
            self._scan(np.frombuffer(view[start:start + SLICE_BYTES], dtype=np.uint8))
        return self.max_depth

    def _scan(self, chars: np.ndarray) -> None:
        count = len(chars)
        backslash = chars == _BACKSLASH
        if self._backslashes or backslash.any():
            positions = np.arange(count, dtype=np.int32)
            # For each position, the last one at or before it that is not a backslash.
            last_other = np.maximum.accumulate(np.where(backslash, -1, positions))
            # Backslashes immediately before each position (those that ended the previous
            # piece count while this one has had nothing else yet).
            before = np.empty(count, dtype=np.int32)
            before[0] = self._backslashes & 1
            before[1:] = positions[:-1] - last_other[:-1]
            before[1:] += np.where(last_other[:-1] < 0, self._backslashes & 1, 0)
            quotes = (chars == _QUOTE) & ((before & 1) == 0)
            tail = int(last_other[-1])
            self._backslashes = (count - 1 - tail) if tail >= 0 else self._backslashes + count
        else:
            quotes = chars == _QUOTE
            self._backslashes = 0
        steps = _STEP[chars]
        values = _VALUE[chars]
        if quotes.any():
            inside = (np.cumsum(quotes, dtype=np.int32) + int(self._in_string)) & 1
            steps[inside == 1] = 0
            values[inside == 1] = 0
            self._in_string = bool(inside[-1])
        elif self._in_string:
            return  # all of it inside one string
        self.values += int(values.sum())
        if not steps.any():
            return
        depth = np.cumsum(steps, dtype=np.int32)
        self.max_depth = max(self.max_depth, self._depth + int(depth.max()))
        self._depth += int(depth[-1])


def json_depth(body: bytes) -> int:
    """The deepest ``[``/``{`` nesting of ``body``, brackets inside strings ignored."""
    return JsonDepthScanner().feed(body)
