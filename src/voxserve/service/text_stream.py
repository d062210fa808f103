"""Text that arrives a few characters at a time, cut into pieces worth speaking now.

A voice agent's LLM sends its reply in tokens of 1–4 characters. :class:`TextStream`
collects them and hands back each piece as soon as it can be spoken without guessing:

- a **sentence** once its end is certain: ``!``, ``?`` or ``…`` (with any closing quotes or
  brackets), a ``.`` that does not follow a digit (``3.`` may become ``3.14``), an
  abbreviation (``Dr.``) or a single letter (``J. R. R.``), or any of these followed by
  white space; a line break also ends a piece;
- a **clause** (up to the last ``,`` ``;`` ``:`` or dash) when no text has come for
  ``stall_s``: an LLM that pauses mid-sentence is heard up to where it paused;
- the **words** up to the last space when the text grows past ``max_chars`` without any
  boundary (nothing is held without bound);
- everything on :meth:`flush`.

Fragments are joined verbatim, so a word or a number split across fragments (``"tw" "enty"``,
``"$25" "." "50"``) is only ever cut at a boundary, never inside. Pure; no I/O, no clock of its
own: the caller passes the time.
"""

from __future__ import annotations

import re

_TERMINALS = "!?…"
_CLOSING = "\"')]}»”’"
_CLAUSE = ",;:—–"
#: Words whose period does not end a sentence (lower case, without the period).
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "mt", "sr", "jr", "vs", "etc", "inc", "ltd", "co",
    "corp", "no", "fig", "approx", "dept", "est", "gen", "gov", "lt", "col", "sgt", "capt",
    "rev", "hon", "ave", "blvd", "rd", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "e.g", "i.e", "a.m", "p.m", "u.s", "u.k",
})
_WORD_BEFORE = re.compile(r"([\w.]+)$")


class TextStream:
    """Buffers streamed text; returns the pieces that are complete (see the module doc)."""

    def __init__(self, *, max_chars: int, stall_s: float) -> None:
        if max_chars < 2:
            raise ValueError("max_chars must be at least 2")
        self._max_chars = max_chars
        self._stall_s = stall_s
        self._buffer = ""
        self._last_add_s: float | None = None

    @property
    def pending(self) -> str:
        """Text received and not handed out yet."""
        return self._buffer

    def stall_deadline(self) -> float | None:
        """When :meth:`on_stall` may next cut a clause (None: nothing waits for it)."""
        if self._last_add_s is None or not self._buffer.strip():
            return None
        return self._last_add_s + self._stall_s

    def add(self, fragment: str, now_s: float) -> list[str]:
        """Append ``fragment`` (received at ``now_s``); the pieces now complete, in order."""
        self._buffer += fragment
        self._last_add_s = now_s
        pieces: list[str] = []
        while True:
            end = _sentence_end(self._buffer)
            if end is None and len(self._buffer) > self._max_chars:
                end = _word_end(self._buffer, self._max_chars)
            if end is None:
                break
            before = len(self._buffer)
            self._take(end, pieces)
            if len(self._buffer) == before:
                break  # nothing speakable was taken
        return pieces

    def on_stall(self, now_s: float) -> list[str]:
        """If no text came for ``stall_s`` by ``now_s``: the text up to the last clause
        boundary (empty when there is none, or it is not time yet)."""
        deadline = self.stall_deadline()
        if deadline is None or now_s < deadline:
            return []
        self._last_add_s = None  # one cut per stall; the next fragment starts the clock again
        end = _clause_end(self._buffer)
        pieces: list[str] = []
        if end is not None:
            self._take(end, pieces)
        return pieces

    def flush(self) -> list[str]:
        """Everything pending, as one piece (none when it is only white space)."""
        pieces: list[str] = []
        self._take(len(self._buffer), pieces)
        return pieces

    def _take(self, end: int, pieces: list[str]) -> None:
        piece, self._buffer = self._buffer[:end].strip(), self._buffer[end:]
        if any(char.isalnum() for char in piece):
            pieces.append(piece)
        elif piece:  # punctuation alone ("..." after a sentence): keep it for the next piece
            self._buffer = piece + self._buffer


def _sentence_end(text: str) -> int | None:
    """The end (exclusive) of the first complete sentence in ``text``, if any."""
    length = len(text)
    for index, char in enumerate(text):
        if char == "\n":
            if text[:index].strip():
                return index + 1
            continue
        if char not in _TERMINALS and char != ".":
            continue
        end = index + 1
        while end < length and (text[end] in _TERMINALS or text[end] in _CLOSING
                                or text[end] == "."):
            end += 1
        if end < length and not text[end].isspace():
            continue  # "3.14", "e.g", "U.S.A", "?!x": not an end yet
        if not any(c.isalnum() for c in text[:index]):
            continue  # punctuation alone: it goes with the next piece
        only_periods = not any(c in _TERMINALS for c in text[index:end])
        if only_periods and not _period_ends(text[:index], at_end=end == length):
            continue
        return end
    return None


def _period_ends(before: str, *, at_end: bool) -> bool:
    """Whether a period after ``before`` ends a sentence."""
    match = _WORD_BEFORE.search(before)
    if match is None:
        return bool(before.strip())
    word = match.group(1)
    if word.lower().rstrip(".") in _ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isalpha():
        return False  # an initial
    return not (at_end and word[-1].isdigit())  # "3." may be a decimal point


def _clause_end(text: str) -> int | None:
    """The end of the text up to its last clause boundary, if any."""
    for index in range(len(text) - 1, -1, -1):
        char = text[index]
        if char not in _CLAUSE:
            continue
        after = index + 1
        if after < len(text) and not text[after].isspace():
            continue  # "1,000", "10:30"
        if after == len(text) and char in ",:" and index > 0 and text[index - 1].isdigit():
            continue  # "1," may become "1,000"
        if text[:index].strip():
            return after
    return None


def _word_end(text: str, limit: int) -> int:
    """Where to cut an over-long ``text`` with no sentence end: after its last space within
    ``limit`` characters (mid-word only when there is none)."""
    space = text.rfind(" ", 0, limit + 1)
    return space + 1 if space > 0 else limit
