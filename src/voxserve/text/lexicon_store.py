"""Pronunciation lexicons on disk: ``<models dir>/lexicons/{global,<voice id>}.{tsv,pls}``.

:meth:`LexiconStore.for_voice` gives the global lexicon merged with the voice's own (the
voice's entries win), re-read when a file changes (its size, modification time or inode), so an
edit on disk or through the admin API applies to the next request without a restart.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from voxserve.errors import InvalidLexicon, LexiconNotFound
from voxserve.text.lexicon import Lexicon, parse_lexicon

logger = logging.getLogger(__name__)

GLOBAL = "global"
FORMATS = ("tsv", "pls")
MAX_LEXICON_BYTES = 2 * 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}")


class LexiconStore:
    """Reads, caches and writes the lexicon files of one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int, int], Lexicon]] = {}

    def for_voice(self, voice_id: str) -> Lexicon:
        """The global lexicon with the voice's entries added (empty when there are none)."""
        lexicon = self._load(GLOBAL)
        return lexicon.merged(self._load(voice_id)) if _NAME.fullmatch(voice_id) else lexicon

    def names(self) -> list[dict[str, object]]:
        """Every lexicon file: name, format, entries, version."""
        found = []
        if self.directory.is_dir():
            for path in sorted(self.directory.iterdir()):
                fmt = path.suffix.removeprefix(".")
                if fmt in FORMATS and _NAME.fullmatch(path.stem) and path.is_file():
                    lexicon = self._read(path)
                    found.append({"name": path.stem, "format": fmt,
                                  "entries": len(lexicon.by_grapheme),
                                  "version": lexicon.version})
        return found

    def read(self, name: str) -> tuple[str, str]:
        """(format, content) of lexicon ``name``; ``LexiconNotFound`` if there is none."""
        path = self._path(name)
        if path is None:
            raise LexiconNotFound(f"no lexicon named {name!r}", param="name")
        return path.suffix.removeprefix("."), path.read_text("utf-8")

    def write(self, name: str, fmt: str, content: str) -> Lexicon:
        """Check and store lexicon ``name`` (replacing one in another format)."""
        _check_name(name)
        if fmt not in FORMATS:
            raise InvalidLexicon(f"lexicon format must be one of {', '.join(FORMATS)}")
        if len(content.encode("utf-8")) > MAX_LEXICON_BYTES:
            raise InvalidLexicon(f"a lexicon is at most {MAX_LEXICON_BYTES} bytes")
        lexicon = parse_lexicon(content, fmt)
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{name}.{fmt}"
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(content, "utf-8")
        with self._lock:
            for other in FORMATS:
                if other != fmt:
                    (self.directory / f"{name}.{other}").unlink(missing_ok=True)
            temporary.replace(target)
        return lexicon

    def delete(self, name: str) -> None:
        path = self._path(name)
        if path is None:
            raise LexiconNotFound(f"no lexicon named {name!r}", param="name")
        path.unlink(missing_ok=True)

    # --- internals ----------------------------------------------------------------------

    def _path(self, name: str) -> Path | None:
        _check_name(name)
        for fmt in FORMATS:
            path = self.directory / f"{name}.{fmt}"
            if path.is_file():
                return path
        return None

    def _load(self, name: str) -> Lexicon:
        path = self._path(name)
        return Lexicon() if path is None else self._read(path)

    def _read(self, path: Path) -> Lexicon:
        try:
            stat = path.stat()
        except OSError:
            return Lexicon()
        # the inode too: a write replaces the file, so even a same-size edit within the
        # file system's timestamp resolution is seen
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            known = self._cache.get(path)
            if known is not None and known[0] == stamp:
                return known[1]
        try:
            lexicon = parse_lexicon(path.read_text("utf-8"), path.suffix.removeprefix("."))
        except (InvalidLexicon, OSError, UnicodeDecodeError) as exc:
            # A broken file on disk is the operator's, not the caller's: speak without it.
            logger.error("lexicon %s is not used: %s", path, exc)
            lexicon = Lexicon()
        with self._lock:
            self._cache[path] = (stamp, lexicon)
        return lexicon


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name) or name.startswith("."):
        raise InvalidLexicon(
            "a lexicon name is 'global' or a voice id (letters, digits, _ . + -)", param="name"
        )
