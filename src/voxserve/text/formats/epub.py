"""EPUB 2 and 3, read straight from the zip with the standard library.

The spine gives the reading order (non-linear items, navigation documents and non-XHTML items
are skipped); chapter titles come from the EPUB 3 navigation document or else the EPUB 2 NCX,
and a navigation entry that points inside a file (``ch.xhtml#part2``) starts a chapter there. A
spine file the navigation does not name starts a chapter titled by its first heading, or, with no
heading, continues the previous chapter (a chapter split over several files).

DRM-encrypted books are refused. Zip bombs are refused before anything is decompressed (member
count, declared sizes, compression ratios), and every member is read through a stream capped at
its declared size and checked against its CRC, so a lying header cannot get more out. Paths are
resolved inside the archive only: an ``href`` that escapes it (``..``, absolute, a URL) is
ignored.
"""

from __future__ import annotations

import io
import logging
import posixpath
import struct
import zipfile
import zlib
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree
from xml.parsers import expat

from voxserve.text.formats import (
    Block,
    CorruptDocument,
    DocumentTooLarge,
    RawChapter,
    RawDocument,
    UnsupportedDocument,
    collapse_spaces,
)
from voxserve.text.formats.html import html_blocks, parse_html

logger = logging.getLogger(__name__)

EPUB_MIMETYPE = b"application/epub+zip"
MAX_MEMBERS = 10_000
MAX_COMPRESSION_RATIO = 100
# Members smaller than this may compress better than the ratio (small, repetitive XML).
_RATIO_CHECK_BYTES = 1024 * 1024
# What zipfile raises on malformed archives, and on ones it cannot read (encrypted members,
# unknown compression methods or zip versions: NotImplementedError is a RuntimeError).
_CORRUPT_ZIP = (
    zipfile.BadZipFile, zlib.error, struct.error, EOFError, OSError, ValueError, OverflowError
)
_UNREADABLE_ZIP = RuntimeError
_XHTML_TYPES = frozenset(("application/xhtml+xml", "text/html"))
_NCX_TYPE = "application/x-dtbncx+xml"
# Font obfuscation (IDPF, Adobe) is the only encryption that leaves the text readable.
_FONT_OBFUSCATION = frozenset(
    ("http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC")
)


@dataclass(frozen=True)
class _Item:
    """A manifest entry: archive path, media type and properties."""

    path: str
    media_type: str
    properties: frozenset[str]


@dataclass(frozen=True)
class _Package:
    """What the OPF package document says: title, manifest, linear spine, navigation files."""

    title: str | None
    spine: list[_Item]
    nav_path: str | None
    ncx_path: str | None


@dataclass(frozen=True)
class _TocEntry:
    """A navigation entry: the file it points to, the element id in it (if any), its title."""

    path: str
    fragment: str | None
    title: str


def read_epub(data: bytes, *, max_unpacked_bytes: int) -> RawDocument:
    """Title and chapters of an EPUB, refusing archives that unpack past the limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _UNREADABLE_ZIP as error:
        raise UnsupportedDocument(f"the EPUB uses unsupported zip features: {error}") from error
    except _CORRUPT_ZIP as error:
        raise CorruptDocument(f"the EPUB is not a readable zip archive: {error}") from error
    with archive:
        _check_limits(archive, max_unpacked_bytes)
        _check_mimetype(archive)
        _check_not_encrypted(archive)
        package = _read_package(archive)
        toc = _read_toc(archive, package)
        return RawDocument(package.title, _chapters(archive, package.spine, toc))


# --- the archive ------------------------------------------------------------------------


def _check_limits(archive: zipfile.ZipFile, max_unpacked_bytes: int) -> None:
    """Refuse archives whose headers announce a zip bomb, before decompressing anything."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise DocumentTooLarge(f"the EPUB has {len(members)} files; the limit is {MAX_MEMBERS}")
    total = sum(info.file_size for info in members)
    if total > max_unpacked_bytes:
        raise DocumentTooLarge(
            f"the EPUB unpacks to {total} bytes; the limit is {max_unpacked_bytes} bytes"
        )
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_CHECK_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise DocumentTooLarge(
                f"EPUB member {info.filename!r} is compressed {ratio:.0f}:1, "
                f"more than {MAX_COMPRESSION_RATIO}:1 (a zip bomb?)"
            )


def _check_mimetype(archive: zipfile.ZipFile) -> None:
    """Refuse zips that are not EPUBs (Word or OpenDocument files, plain archives).

    The ``mimetype`` member must name EPUB; without one, ``META-INF/container.xml`` is enough.
    """
    names = set(archive.namelist())
    if "mimetype" in names:
        is_epub = _read_member(archive, "mimetype").strip() == EPUB_MIMETYPE
    else:
        is_epub = "META-INF/container.xml" in names
    if not is_epub:
        raise UnsupportedDocument("the file is a zip archive but not an EPUB")


def _check_not_encrypted(archive: zipfile.ZipFile) -> None:
    """Refuse DRM: ``META-INF/encryption.xml`` listing anything but obfuscated fonts."""
    if "META-INF/encryption.xml" not in archive.namelist():
        return
    encryption = _parse_xml(_read_member(archive, "META-INF/encryption.xml"), "encryption.xml")
    for method in encryption.iterfind(".//{*}EncryptedData/{*}EncryptionMethod"):
        if method.get("Algorithm") not in _FONT_OBFUSCATION:
            raise UnsupportedDocument("the EPUB is encrypted (DRM); upload a DRM-free copy")


def _read_member(archive: zipfile.ZipFile, path: str) -> bytes:
    """A member's bytes, read no further than its declared size and checked against its CRC."""
    try:
        info = archive.getinfo(path)
    except KeyError as error:
        raise CorruptDocument(f"the EPUB lacks {path!r}") from error
    try:
        with archive.open(info) as stream:
            content = stream.read(info.file_size + 1)
    except _UNREADABLE_ZIP as error:
        raise UnsupportedDocument(f"cannot read EPUB member {path!r}: {error}") from error
    except _CORRUPT_ZIP as error:
        raise CorruptDocument(f"EPUB member {path!r} is corrupt: {error}") from error
    if len(content) != info.file_size or zlib.crc32(content) != info.CRC:
        raise CorruptDocument(f"EPUB member {path!r} does not match its declared size or CRC")
    return content


def _resolve(base: str, href: str) -> tuple[str, str | None] | None:
    """(archive path, fragment) for an ``href`` relative to the file ``base``.

    ``None`` for a URL, an absolute path or a path leaving the archive: such names are never
    looked up.
    """
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or parts.path.startswith("/"):
        return None
    path = unquote(parts.path)
    path = posixpath.normpath(posixpath.join(posixpath.dirname(base), path)) if path else base
    if path.startswith(("/", "../")) or path == "..":
        return None
    return path, unquote(parts.fragment) or None


# --- package and navigation -------------------------------------------------------------


class _EntityDeclared(Exception):
    """Raised from the XML parser when a document declares an entity."""


def _refuse_entity(*_declaration: object) -> None:
    """Expat handler for entity declarations: entities are never expanded (billion laughs)."""
    raise _EntityDeclared


def _parse_xml(content: bytes, path: str) -> ElementTree.Element:
    """Parse an XML member; documents declaring entities are refused, whatever their encoding.

    A first expat pass (no tree) looks for entity declarations, which ElementTree's C parser
    offers no hook for.
    """
    scanner = expat.ParserCreate()
    scanner.EntityDeclHandler = _refuse_entity
    scanner.UnparsedEntityDeclHandler = _refuse_entity
    try:
        scanner.Parse(content, True)
        return ElementTree.fromstring(content)
    except _EntityDeclared as error:
        raise CorruptDocument(f"EPUB member {path!r} declares XML entities; refused") from error
    except (expat.ExpatError, ElementTree.ParseError) as error:
        raise CorruptDocument(f"EPUB member {path!r} is not well-formed XML: {error}") from error


def _read_package(archive: zipfile.ZipFile) -> _Package:
    """Find the OPF through ``META-INF/container.xml`` and read its manifest and spine."""
    container = _parse_xml(_read_member(archive, "META-INF/container.xml"), "container.xml")
    rootfile = container.find(".//{*}rootfile")
    target = _resolve("", rootfile.get("full-path", "")) if rootfile is not None else None
    if target is None:
        raise CorruptDocument("the EPUB's container.xml names no usable package document")
    opf_path = target[0]
    package = _parse_xml(_read_member(archive, opf_path), opf_path)
    title_element = package.find("{*}metadata/{*}title")
    title = collapse_spaces(title_element.text or "") if title_element is not None else ""
    manifest: dict[str, _Item] = {}
    for element in package.iterfind("{*}manifest/{*}item"):
        resolved = _resolve(opf_path, element.get("href", ""))
        if resolved is not None:
            manifest[element.get("id", "")] = _Item(
                resolved[0],
                element.get("media-type", ""),
                frozenset(element.get("properties", "").split()),
            )
    nav = next((item for item in manifest.values() if "nav" in item.properties), None)
    spine_element = package.find("{*}spine")
    ncx = manifest.get(spine_element.get("toc", "")) if spine_element is not None else None
    ncx = ncx or next((item for item in manifest.values() if item.media_type == _NCX_TYPE), None)
    spine = [
        manifest[ref.get("idref", "")]
        for ref in package.iterfind("{*}spine/{*}itemref")
        if ref.get("linear", "yes") != "no" and ref.get("idref", "") in manifest
    ]
    return _Package(
        title or None,
        [item for item in spine if item.media_type in _XHTML_TYPES and item != nav],
        nav.path if nav is not None else None,
        ncx.path if ncx is not None else None,
    )


def _read_toc(archive: zipfile.ZipFile, package: _Package) -> list[_TocEntry]:
    """Navigation entries in order: the EPUB 3 nav document's, else the NCX's.

    A missing or malformed navigation file only loses the chapter titles it would have given.
    """
    for path, read in ((package.nav_path, _nav_entries), (package.ncx_path, _ncx_entries)):
        if path is None:
            continue
        try:
            entries = read(archive, path)
        except CorruptDocument:
            logger.info("ignoring the unreadable EPUB navigation file %r", path, exc_info=True)
            continue
        if entries:
            return entries
    return []


def _nav_entries(archive: zipfile.ZipFile, path: str) -> list[_TocEntry]:
    """Links of the EPUB 3 navigation document's ``toc`` nav (or its first nav)."""
    soup = parse_html(_decode(_read_member(archive, path)))
    navs = soup.find_all("nav")
    toc = next((nav for nav in navs if "toc" in str(nav.get("epub:type", "")).split()), None)
    toc = toc or (navs[0] if navs else None)
    if toc is None:
        return []
    entries: list[_TocEntry] = []
    for link in toc.find_all("a", href=True):
        entry = _entry(path, str(link["href"]), link.get_text())
        if entry is not None:
            entries.append(entry)
    return entries


def _ncx_entries(archive: zipfile.ZipFile, path: str) -> list[_TocEntry]:
    """Nav points of an EPUB 2 NCX, in document order."""
    entries: list[_TocEntry] = []
    for point in _parse_xml(_read_member(archive, path), path).iterfind(".//{*}navPoint"):
        label = point.find("{*}navLabel/{*}text")
        content = point.find("{*}content")
        if label is not None and content is not None:
            entry = _entry(path, content.get("src", ""), label.text or "")
            if entry is not None:
                entries.append(entry)
    return entries


def _entry(base: str, href: str, title: str) -> _TocEntry | None:
    """A navigation entry, or ``None`` if it is untitled or points outside the archive."""
    resolved = _resolve(base, href)
    title = collapse_spaces(title)
    if resolved is None or not title:
        return None
    return _TocEntry(resolved[0], resolved[1], title)


# --- chapters ---------------------------------------------------------------------------


def _decode(content: bytes) -> str:
    """XHTML bytes as text: UTF-16 when it has a BOM, else UTF-8 (EPUB allows only these)."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16", errors="replace")
    return content.decode("utf-8-sig", errors="replace")


def _chapters(
    archive: zipfile.ZipFile, spine: list[_Item], toc: list[_TocEntry]
) -> list[RawChapter]:
    """Chapters of the spine files, cut where navigation entries point."""
    entries_by_path: dict[str, list[_TocEntry]] = {}
    for entry in toc:
        entries_by_path.setdefault(entry.path, []).append(entry)
    chapters: list[RawChapter] = []
    for item in spine:
        entries = entries_by_path.get(item.path, [])
        starts = {entry.fragment: entry.title for entry in entries if entry.fragment}
        blocks = list(html_blocks(parse_html(_decode(_read_member(archive, item.path)))))
        file_title = next((entry.title for entry in entries if entry.fragment is None), None)
        if file_title is None and not entries:
            file_title = next((block.text for block in blocks if block.level), None)
        if file_title is not None or not chapters:
            chapters.append(RawChapter(file_title))
        for block in blocks:
            anchor = next((anchor for anchor in block.anchors if anchor in starts), None)
            if anchor is not None:
                chapters.append(RawChapter(starts.pop(anchor)))
            if not _repeats_title(block, chapters[-1]):
                chapters[-1].paragraphs.append(block.text)
    return chapters


def _repeats_title(block: Block, chapter: RawChapter) -> bool:
    """True for a heading at a chapter's start that only repeats (part of) its title."""
    return (
        block.level > 0
        and not chapter.paragraphs
        and chapter.title is not None
        and block.text.casefold() in chapter.title.casefold()
    )
