"""Builders for the small sample documents the document-parsing tests read.

Every file is made here, in a temporary directory: plain text, Markdown, HTML, real EPUB zips
(container.xml, OPF, EPUB 3 nav or EPUB 2 NCX, XHTML chapters) and real PDFs (written with
pypdf, with hand-written content streams in the standard Helvetica font), plus hostile variants:
zip bombs, lying zip headers, encrypted PDFs.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import ContentStream, DictionaryObject, NameObject

# --- text formats -------------------------------------------------------------------------

PLAIN_BOOK = """\
A short preface before any chapter. It sets the scene.

CHAPTER 1
The Beginning

It was a dark and stormy night. The wind howled
over the moors.

Nobody slept.

Chapter II. The Price

The ticket cost $5 at the gate. Dr. Smith paid it.

PART THREE

The end came quickly. Everyone went home.

Epilogue

Years later, they still talked about it.
"""

MARKDOWN_BOOK = """\
# The Markdown Book

Welcome to *the* book.

## First Steps

It was a **bright** morning. See [the docs](https://example.com) for more.

- apples are red
- pears are green

```python
print("code is not read")
```

Second Chapter
--------------

The ticket cost $5 at the gate. ![A map of the gate](map.png)

| Name | Age |
|------|-----|
| Ann  | 30  |

## Third Chapter

> A quoted line to close.
"""

HTML_BOOK = """\
<!DOCTYPE html>
<html><head><title>The HTML Book</title><style>p { color: red; }</style>
<script>alert("not read");</script></head>
<body>
<nav><a href="#c1">Contents link</a></nav>
<h1 id="c1">Opening</h1>
<p>The first <em>chapter</em> starts here. It has two sentences.</p>
<h1 id="c2">Middle</h1>
<p>The ticket cost $5 at the gate.</p><ul><li>One item</li><li>Another item</li></ul>
<h1 id="c3">Closing</h1>
<div>All done.<script>document.write("hidden")</script></div>
</body></html>
"""


def write(directory: Path, name: str, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8) to ``directory/name`` and return the path."""
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


# --- EPUB ---------------------------------------------------------------------------------


@dataclass
class EpubChapter:
    """One XHTML file of a sample EPUB: its nav title (None: not in the nav) and body HTML."""

    file: str
    nav_title: str | None
    body: str
    linear: bool = True
    fragments: list[tuple[str, str]] = field(default_factory=list)  # (id, nav title) inside


EPUB_CHAPTERS = [
    EpubChapter("cover.xhtml", None, "<p>Cover page text.</p>", linear=False),
    EpubChapter(
        "ch1.xhtml",
        "Chapter One: Arrival",
        "<h1>Chapter One</h1><p>The train arrived at noon. It was late.</p>",
    ),
    EpubChapter(
        "ch2.xhtml",
        "Chapter Two: Money",
        "<h2>Chapter Two: Money</h2><p>The ticket cost $5 at the gate.</p>"
        '<h2 id="ch3">Chapter Three</h2><p>A new chapter inside the same file.</p>',
        fragments=[("ch3", "Chapter Three: Inside")],
    ),
    EpubChapter("ch2b.xhtml", None, "<p>The second file of chapter three.</p>"),
    EpubChapter("ch4.xhtml", None, "<h1>Chapter Four</h1><p>Titled by its heading.</p>"),
]


def _xhtml(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
        f"<head><title>{escape(title)}</title></head><body>{body}</body></html>"
    )


def _nav_links(chapters: list[EpubChapter]) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    for chapter in chapters:
        if chapter.nav_title is not None:
            links.append((f"text/{chapter.file}", chapter.nav_title))
        links.extend((f"text/{chapter.file}#{id_}", title) for id_, title in chapter.fragments)
    return links


def epub_files(
    chapters: list[EpubChapter] = EPUB_CHAPTERS, *, title: str = "The EPUB Book", epub3: bool = True
) -> dict[str, str]:
    """The members of a sample EPUB (besides ``mimetype``), name -> text."""
    manifest = [
        f'<item id="{c.file}" href="text/{c.file}" media-type="application/xhtml+xml"/>'
        for c in chapters
    ]
    spine = [
        f'<itemref idref="{c.file}" linear="{"yes" if c.linear else "no"}"/>' for c in chapters
    ]
    links = _nav_links(chapters)
    files: dict[str, str] = {
        "META-INF/container.xml": (
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>"
        )
    }
    if epub3:
        manifest.append(
            '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" '
            'properties="nav"/>'
        )
        spine.insert(0, '<itemref idref="nav"/>')  # navigation documents are not read
        items = "".join(f'<li><a href="{href}">{escape(t)}</a></li>' for href, t in links)
        files["OEBPS/nav.xhtml"] = _xhtml(
            "Contents", f'<nav epub:type="toc"><h1>Contents</h1><ol>{items}</ol></nav>'
        )
    else:
        manifest.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
        points = "".join(
            f'<navPoint id="p{i}"><navLabel><text>{escape(t)}</text></navLabel>'
            f'<content src="{href}"/></navPoint>'
            for i, (href, t) in enumerate(links)
        )
        files["OEBPS/toc.ncx"] = (
            '<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" '
            f'version="2005-1"><navMap>{points}</navMap></ncx>'
        )
    files["OEBPS/content.opf"] = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
        'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:identifier id="id">sample</dc:identifier><dc:title>{escape(title)}</dc:title>'
        f'</metadata><manifest>{"".join(manifest)}</manifest>'
        f'<spine toc="{"" if epub3 else "ncx"}">{"".join(spine)}</spine></package>'
    )
    for chapter in chapters:
        files[f"OEBPS/text/{chapter.file}"] = _xhtml(chapter.file, chapter.body)
    return files


def build_epub(path: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write an EPUB zip: ``mimetype`` first and stored, then ``files`` deflated."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        for name, content in files.items():
            archive.writestr(name, content, compress_type=zipfile.ZIP_DEFLATED)
    return path


def add_zeros_member(path: Path, name: str, size: int) -> Path:
    """Append a deflated member of ``size`` zero bytes, streamed (never held in memory)."""
    chunk = bytes(1024 * 1024)
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open(name, "w", force_zip64=size > 0x7FFFFFFF) as member,
    ):
        for offset in range(0, size, len(chunk)):
            member.write(chunk[: size - offset])
    return path


def lie_about_size(path: Path, name: str, declared: int) -> Path:
    """Rewrite the uncompressed size of member ``name`` in the local header and the central
    directory, as a zip bomb that hides its size would."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    for signature, size_offset, name_offset in ((b"PK\x01\x02", 24, 46), (b"PK\x03\x04", 22, 30)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            (name_length,) = struct.unpack_from("<H", data, start + name_offset - 18)
            if data[start + name_offset : start + name_offset + name_length] == encoded:
                struct.pack_into("<I", data, start + size_offset, declared)
            start += 4
    path.write_bytes(bytes(data))
    return path


# --- PDF ----------------------------------------------------------------------------------


def _pdf_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})"


def build_pdf(
    path: Path,
    pages: list[list[str]],
    *,
    title: str | None = None,
    outline: Sequence[tuple[str, int]] = (),
    user_password: str | None = None,
    owner_password: str | None = None,
) -> Path:
    """A PDF with one page per list of lines (Helvetica 11 pt; "" is an empty line), optional
    document title, top-level bookmarks (title, page index) and encryption."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        operations = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
        operations += [f"{_pdf_string(line)} Tj T*" if line else "T*" for line in lines]
        operations.append("ET")
        content = ContentStream(None, writer)
        content.set_data("\n".join(operations).encode("cp1252"))
        page.replace_contents(content)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    for bookmark, page_index in outline:
        writer.add_outline_item(title=bookmark, page_number=page_index)
    if title is not None:
        writer.add_metadata({"/Title": title})
    if user_password is not None:
        # RC4: pypdf encrypts and decrypts it without an optional crypto library
        writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    with path.open("wb") as file:
        writer.write(file)
    return path
