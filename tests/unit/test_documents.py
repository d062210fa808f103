"""Tests for voxserve.text.documents: every format from a file built here, and every refusal."""

from __future__ import annotations

import codecs
import contextlib
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit import document_samples as samples
from tests.unit.document_samples import EpubChapter
from voxserve.errors import InvalidRequest
from voxserve.text.documents import (
    Chapter,
    CorruptDocument,
    Document,
    DocumentTooLarge,
    EmptyDocument,
    Paragraph,
    UnsupportedDocument,
    parse_document,
    parse_text,
    split_long_chapters,
)
from voxserve.text.formats import pdf as pdf_format

MB = 1024 * 1024


def titles(document: Document) -> list[str]:
    return [chapter.title for chapter in document.chapters]


def chapter_segments(document: Document, index: int) -> list[str]:
    """All segments of one chapter, in order."""
    return [s for p in document.chapters[index].paragraphs for s in p.segments]


def all_text(document: Document) -> str:
    return " ".join(text for *_, text in document.iter_segments())


def parse_file(path: Path, *, max_unpacked_bytes: int = 100 * MB) -> Document:
    return parse_document(
        path.read_bytes(), filename=path.name, max_unpacked_bytes=max_unpacked_bytes
    )


# --- formats ------------------------------------------------------------------------------


def test_plain_text_chapters(tmp_path: Path) -> None:
    document = parse_file(samples.write(tmp_path, "my_book.txt", samples.PLAIN_BOOK))
    assert document.title == "my book"
    assert titles(document) == [
        "my book",  # the text before the first heading, titled from the document
        "CHAPTER 1: The Beginning",
        "Chapter II. The Price",
        "PART THREE",
        "Epilogue",
    ]
    first = document.chapters[1]
    assert [p.segments for p in first.paragraphs] == [
        ("It was a dark and stormy night.", "The wind howled over the moors."),
        ("Nobody slept.",),
    ]
    assert chapter_segments(document, 2) == [
        "The ticket cost five dollars at the gate.",
        "Doctor Smith paid it.",
    ]
    assert chapter_segments(document, 4) == ["Years later, they still talked about it."]


@pytest.mark.parametrize(
    ("line", "is_heading"),
    [
        ("CHAPTER 12", True),
        ("Chapter IV. The Return", True),
        ("Chapter twenty-one", True),
        ("Book 3: Exile", True),
        ("Prologue", True),
        ("Chapter 1 was boring.", False),
        ("Part of the deal", False),
        ("Chapter 12, in which we meet", False),
        ("Prologues are fun", False),
    ],
)
def test_plain_text_heading_lines(line: str, is_heading: bool) -> None:
    document = parse_text(f"Some words first.\n\n{line}\n\nSome words after.")
    assert (line in titles(document)) is is_heading


def test_plain_text_without_headings_is_one_chapter() -> None:
    document = parse_text("One paragraph here.\n\nAnother one there.")
    assert document.title is None
    assert titles(document) == ["Introduction"]
    assert [p.segments for p in document.chapters[0].paragraphs] == [
        ("One paragraph here.",),
        ("Another one there.",),
    ]


def test_markdown_chapters_and_markup(tmp_path: Path) -> None:
    document = parse_file(samples.write(tmp_path, "book.md", samples.MARKDOWN_BOOK))
    assert document.title == "The Markdown Book"  # the lone h1, with ## chapters
    assert titles(document) == [
        "The Markdown Book",
        "First Steps",
        "Second Chapter",  # setext heading
        "Third Chapter",
    ]
    assert chapter_segments(document, 1) == [
        "It was a bright morning.",
        "See the docs for more.",  # link -> link text, emphasis dropped
        "apples are red",  # list items are paragraphs of their own
        "pears are green",
    ]
    assert chapter_segments(document, 2) == [
        "The ticket cost five dollars at the gate.",
        "A map of the gate",  # image -> alt text
        "Name, Age",  # table rows, cells joined
        "Ann, thirty",
    ]
    assert "code" not in all_text(document)
    assert chapter_segments(document, 3) == ["A quoted line to close."]


def test_markdown_repeated_h1_makes_h1_chapters() -> None:
    text = "# One\n\nFirst.\n\n## Detail\n\nMore.\n\n# Two\n\nSecond.\n\n# Three\n\nThird."
    document = parse_text(text, markdown=True)
    assert document.title is None
    assert titles(document) == ["One", "Two", "Three"]
    assert chapter_segments(document, 0) == ["First.", "Detail", "More."]


def test_html_chapters(tmp_path: Path) -> None:
    document = parse_file(samples.write(tmp_path, "page.html", samples.HTML_BOOK))
    assert document.title == "The HTML Book"
    assert titles(document) == ["Opening", "Middle", "Closing"]
    assert chapter_segments(document, 0) == [
        "The first chapter starts here.",
        "It has two sentences.",
    ]
    assert chapter_segments(document, 1) == [
        "The ticket cost five dollars at the gate.",
        "One item",
        "Another item",
    ]
    assert chapter_segments(document, 2) == ["All done."]
    text = all_text(document)
    for dropped in ("alert", "hidden", "color", "Contents link"):
        assert dropped not in text


@pytest.mark.parametrize("epub3", [True, False], ids=["epub3-nav", "epub2-ncx"])
def test_epub_chapters(tmp_path: Path, epub3: bool) -> None:
    path = samples.build_epub(tmp_path / "book.epub", samples.epub_files(epub3=epub3))
    document = parse_file(path)
    assert document.title == "The EPUB Book"
    assert titles(document) == [
        "Chapter One: Arrival",
        "Chapter Two: Money",
        "Chapter Three: Inside",  # a nav entry pointing inside ch2.xhtml
        "Chapter Four",  # not in the nav: titled by its first heading
    ]
    assert chapter_segments(document, 0) == ["The train arrived at noon.", "It was late."]
    assert chapter_segments(document, 1) == ["The ticket cost five dollars at the gate."]
    assert chapter_segments(document, 2) == [
        "A new chapter inside the same file.",
        "The second file of chapter three.",  # no nav entry, no heading: continues
    ]
    assert chapter_segments(document, 3) == ["Titled by its heading."]
    text = all_text(document)
    assert "Cover page" not in text  # non-linear spine item
    assert "Contents" not in text  # the navigation document


def test_epub_with_broken_navigation_falls_back_to_headings(tmp_path: Path) -> None:
    files = samples.epub_files(epub3=False)
    files["OEBPS/toc.ncx"] = "<ncx><navMap><navPoint"
    document = parse_file(samples.build_epub(tmp_path / "book.epub", files))
    assert titles(document) == ["Chapter One", "Chapter Two: Money", "Chapter Four"]
    assert "Chapter Three" in chapter_segments(document, 1)  # no nav entry to split at


def test_epub_never_uses_paths_outside_the_archive(tmp_path: Path) -> None:
    chapters = [EpubChapter("ch1.xhtml", "Safe", "<p>Safe text.</p>")]
    files: dict[str, str] = samples.epub_files(chapters)
    files["OEBPS/content.opf"] = files["OEBPS/content.opf"].replace(
        "</manifest>",
        '<item id="evil" href="../../secret.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="abs" href="/secret.xhtml" media-type="application/xhtml+xml"/></manifest>',
    ).replace("</spine>", '<itemref idref="evil"/><itemref idref="abs"/></spine>')
    files["../secret.xhtml"] = "<p>Secret text.</p>"
    files["/secret.xhtml"] = "<p>Secret text.</p>"
    document = parse_file(samples.build_epub(tmp_path / "book.epub", files))
    assert titles(document) == ["Safe"]
    assert "Secret" not in all_text(document)


def _pdf_pages(headings: tuple[str, str, str]) -> list[list[str]]:
    first, second, third = headings
    return [
        ["The PDF Book", "by A. Writer"],
        [
            first,
            "It was a dark and stormy night. The wind howled over the moors and the rain",
            "fell in long grey sheets across the valley.",
            "Nobody slept that night, not even the old dog who usually snored by the fire",
            "until the morning came at last over the hills and fields of the estate.",
            "1",
        ],
        [
            second,
            "The ticket cost $5 at the gate. Everyone paid it without a single com-",
            "plaint, even the children who had walked the whole way from the village.",
            "2",
        ],
        [third, "The end came quickly. Everyone went home."],
    ]


def test_pdf_chapters_from_outline(tmp_path: Path) -> None:
    path = samples.build_pdf(
        tmp_path / "book.pdf",
        _pdf_pages(("Chapter One", "Chapter Two", "Chapter Three")),
        title="The PDF Book",
        outline=[("Chapter One", 1), ("Chapter Two", 2), ("Chapter Three", 3)],
    )
    document = parse_file(path)
    assert document.title == "The PDF Book"
    assert titles(document) == ["The PDF Book", "Chapter One", "Chapter Two", "Chapter Three"]
    assert [p.segments for p in document.chapters[1].paragraphs] == [
        (
            "It was a dark and stormy night.",
            "The wind howled over the moors and the rain fell in long grey sheets across the"
            " valley.",
        ),
        (
            "Nobody slept that night, not even the old dog who usually snored by the fire until"
            " the morning came at last over the hills and fields of the estate.",
        ),
    ]
    assert chapter_segments(document, 2) == [
        "The ticket cost five dollars at the gate.",
        # rejoined hyphenation, page number dropped
        "Everyone paid it without a single complaint, even the children who had walked the"
        " whole way from the village.",
    ]
    assert chapter_segments(document, 3) == ["The end came quickly.", "Everyone went home."]


def test_pdf_chapters_from_heading_lines(tmp_path: Path) -> None:
    pages = _pdf_pages(("CHAPTER 1", "CHAPTER 2", "CHAPTER 3"))
    document = parse_file(samples.build_pdf(tmp_path / "my_book.pdf", pages))
    assert document.title == "my book"
    assert titles(document) == ["my book", "CHAPTER 1", "CHAPTER 2", "CHAPTER 3"]
    assert "The ticket cost five dollars at the gate." in chapter_segments(document, 2)


def test_pdf_without_headings_is_one_chapter(tmp_path: Path) -> None:
    path = samples.build_pdf(tmp_path / "notes.pdf", [["Just one note."], ["And another."]])
    document = parse_file(path)
    assert titles(document) == ["notes"]
    assert all_text(document) == "Just one note. And another."


def test_pdf_protected_only_against_changes_is_read(tmp_path: Path) -> None:
    path = samples.build_pdf(
        tmp_path / "locked.pdf", [["Readable text."]], user_password="", owner_password="owner"
    )
    assert all_text(parse_file(path)) == "Readable text."


# --- detection and decoding ---------------------------------------------------------------


def test_content_sniffing_beats_the_file_name() -> None:
    html = b"<!DOCTYPE html><html><body><h1>A</h1><p>One.</p><h1>B</h1><p>Two.</p></body></html>"
    assert titles(parse_document(html, filename="notes.txt")) == ["A", "B"]
    markdown = b"# A\n\nOne.\n\n# B\n\nTwo."
    assert titles(parse_document(markdown, content_type="text/markdown; charset=utf-8")) == [
        "A",
        "B",
    ]
    assert titles(parse_document(markdown, filename="notes.txt")) == ["notes"]  # plain text


@pytest.mark.parametrize(
    "data",
    [
        "Café crème.".encode(),
        codecs.BOM_UTF8 + "Café crème.".encode(),
        "Café crème.".encode("utf-16"),  # with BOM
        "Café crème.".encode("cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "cp1252"],
)
def test_text_encodings(data: bytes) -> None:
    assert all_text(parse_document(data)) == "Café crème."


def test_document_helpers() -> None:
    document = parse_text("CHAPTER 1\n\nOne. Two.\n\nThree.\n\nCHAPTER 2\n\nFour.")
    assert list(document.iter_segments()) == [
        (0, 0, 0, "One."),
        (0, 0, 1, "Two."),
        (0, 1, 0, "Three."),
        (1, 0, 0, "Four."),
    ]
    assert document.segment_count == 4
    assert document.char_count == len("One.Two.Three.Four.")


def test_segments_respect_the_limit() -> None:
    text = "word " * 200 + "end."
    document = parse_document(text.encode(), max_segment_chars=50)
    assert document.segment_count > 1
    assert all(len(segment) <= 50 for *_, segment in document.iter_segments())


# --- refusals -----------------------------------------------------------------------------


def test_refusals_are_invalid_requests_with_distinct_codes() -> None:
    errors = [UnsupportedDocument, DocumentTooLarge, CorruptDocument, EmptyDocument]
    assert all(issubclass(error, InvalidRequest) for error in errors)
    assert len({error.code for error in errors}) == len(errors)


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", None),
        (b" \n\t\r\n ", "blank.txt"),
        ("\n \n".encode("utf-16"), None),
        (b"... !!! ---", None),  # nothing speakable
        (b"<html><body><script>x()</script><nav>Menu</nav></body></html>", "page.html"),
        (b"# \n\n```\ncode only\n```", "readme.md"),
    ],
)
def test_empty_documents(data: bytes, filename: str | None) -> None:
    with pytest.raises(EmptyDocument):
        parse_document(data, filename=filename)


def test_empty_text() -> None:
    with pytest.raises(EmptyDocument):
        parse_text("  \n\n ")


def test_pdf_without_text_is_empty(tmp_path: Path) -> None:
    with pytest.raises(EmptyDocument):
        parse_file(samples.build_pdf(tmp_path / "scan.pdf", [[], []]))


def test_too_large() -> None:
    with pytest.raises(DocumentTooLarge):
        parse_document(b"x" * 1001, max_bytes=1000)


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "picture.png"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "book.pdf"),
        (bytes(range(1, 32)) * 10, "book.txt"),  # control characters, no NUL
    ],
)
def test_unsupported_binary(data: bytes, filename: str) -> None:
    with pytest.raises(UnsupportedDocument):
        parse_document(data, filename=filename)


def test_zip_that_is_not_an_epub(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    with pytest.raises(UnsupportedDocument):
        parse_file(path)


def test_corrupt_zip(tmp_path: Path) -> None:
    good = samples.build_epub(tmp_path / "book.epub", samples.epub_files()).read_bytes()
    with pytest.raises(CorruptDocument):
        parse_document(b"PK\x03\x04" + b"garbage" * 100, filename="book.epub")
    with pytest.raises(CorruptDocument):
        parse_document(good[: len(good) // 2], filename="book.epub")


def test_epub_missing_its_package(tmp_path: Path) -> None:
    files = samples.epub_files()
    del files["OEBPS/content.opf"]
    with pytest.raises(CorruptDocument):
        parse_file(samples.build_epub(tmp_path / "book.epub", files))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_epub_with_xml_entities_is_refused(tmp_path: Path, encoding: str) -> None:
    files: dict[str, str | bytes] = dict(samples.epub_files())
    laughs = '<!DOCTYPE package [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    opf = str(files["OEBPS/content.opf"]).replace("?>", "?>" + laughs, 1)
    opf = opf.replace('version="1.0"', f'version="1.0" encoding="{encoding}"', 1)
    files["OEBPS/content.opf"] = opf.encode(encoding)
    with pytest.raises(CorruptDocument, match="entities"):
        parse_file(samples.build_epub(tmp_path / "book.epub", files))


def test_drm_epub_is_refused(tmp_path: Path) -> None:
    files = samples.epub_files()
    files["META-INF/encryption.xml"] = (
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
        'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
        '<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
        '<enc:CipherData><enc:CipherReference URI="OEBPS/text/ch1.xhtml"/></enc:CipherData>'
        "</enc:EncryptedData></encryption>"
    )
    with pytest.raises(UnsupportedDocument, match="DRM"):
        parse_file(samples.build_epub(tmp_path / "drm.epub", files))


def test_epub_bomb_by_declared_size(tmp_path: Path) -> None:
    path = samples.build_epub(tmp_path / "bomb.epub", samples.epub_files())
    samples.add_zeros_member(path, "OEBPS/zeros.bin", 200 * MB)
    assert path.stat().st_size < 1 * MB
    with pytest.raises(DocumentTooLarge):
        parse_file(path)


def test_epub_bomb_by_compression_ratio(tmp_path: Path) -> None:
    path = samples.build_epub(tmp_path / "bomb.epub", samples.epub_files())
    samples.add_zeros_member(path, "OEBPS/zeros.bin", 5 * MB)  # well under the size limit
    with pytest.raises(DocumentTooLarge, match="compressed"):
        parse_file(path)


def test_epub_bomb_with_a_lying_header(tmp_path: Path) -> None:
    files: dict[str, str] = samples.epub_files()
    del files["OEBPS/text/ch4.xhtml"]
    path = samples.build_epub(tmp_path / "bomb.epub", files)
    samples.add_zeros_member(path, "OEBPS/text/ch4.xhtml", 20 * MB)
    samples.lie_about_size(path, "OEBPS/text/ch4.xhtml", 1000)
    with pytest.raises(CorruptDocument):
        parse_file(path)


def test_epub_with_too_many_members(tmp_path: Path) -> None:
    path = samples.build_epub(tmp_path / "many.epub", samples.epub_files())
    with zipfile.ZipFile(path, "a") as archive:
        for index in range(10_001):
            archive.writestr(f"OEBPS/filler/{index}.txt", "")
    with pytest.raises(DocumentTooLarge, match="files"):
        parse_file(path)


def test_corrupt_pdf(tmp_path: Path) -> None:
    good = samples.build_pdf(tmp_path / "book.pdf", [["Some text."]] * 3).read_bytes()
    with pytest.raises(CorruptDocument):
        parse_document(b"%PDF-1.7\n" + b"\x01garbage\x02" * 100, filename="book.pdf")
    with pytest.raises(CorruptDocument):
        parse_document(good[: len(good) // 3], filename="book.pdf")


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = samples.build_pdf(tmp_path / "secret.pdf", [["Hidden text."]], user_password="pw")
    with pytest.raises(UnsupportedDocument, match="password"):
        parse_file(path)


def test_pdf_page_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_format, "MAX_PAGES", 2)
    path = samples.build_pdf(tmp_path / "long.pdf", [["One."], ["Two."], ["Three."]])
    with pytest.raises(DocumentTooLarge, match="pages"):
        parse_file(path)


def test_pdf_text_limit(tmp_path: Path) -> None:
    path = samples.build_pdf(tmp_path / "long.pdf", [["A sentence of some length."]])
    with pytest.raises(DocumentTooLarge):
        parse_file(path, max_unpacked_bytes=10)


# --- robustness ---------------------------------------------------------------------------


_MARKUP_PIECES = [
    "#", "## ", "*", "_", "`", "```", ">", "- ", "1. ", "=", "---", "|", "[", "](", ")", "![",
    "<p>", "<h1>", "\n", "\n\n", " ", "CHAPTER 1", "Part Two", "Prologue", "word", "Mr.",
    "$5", "3.5", "é", "!", "?", ".",
]  # fmt: skip
_TEXTS = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from(_MARKUP_PIECES), max_size=80).map("".join),
)


@settings(max_examples=200, deadline=None)
@given(text=_TEXTS, markdown=st.booleans())
def test_parse_text_never_fails_except_empty(text: str, markdown: bool) -> None:
    try:
        document = parse_text(text, markdown=markdown, max_segment_chars=40)
    except EmptyDocument:
        return
    assert document.chapters
    for chapter in document.chapters:
        assert chapter.title
        assert chapter.paragraphs
        assert all(paragraph.segments for paragraph in chapter.paragraphs)
    assert all(0 < len(segment) <= 40 for *_, segment in document.iter_segments())


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=300))
def test_parse_document_refuses_cleanly(data: bytes) -> None:
    with contextlib.suppress(InvalidRequest):
        parse_document(data)



def _chapter_of(sizes: list[int], title: str = "Long") -> Chapter:
    return Chapter(title, tuple(
        Paragraph(tuple(f"Sentence {p}.{s}." for s in range(size)))
        for p, size in enumerate(sizes)))


def _sizes(document: Document) -> list[int]:
    return [sum(len(p.segments) for p in chapter.paragraphs) for chapter in document.chapters]


@pytest.mark.parametrize(("paragraphs", "limit", "parts"), [
    ([1000], 600, [500, 500]),  # one paragraph (no blank lines): cut between sentences
    ([5] * 200, 600, [500, 500]),
    ([400, 400, 400, 100], 600, [400, 400, 500]),
    ([601], 600, [300, 301]),
    ([10] * 60, 600, [600]),  # at the limit: left whole
])
def test_long_chapters_are_cut_into_about_equal_parts(
    paragraphs: list[int], limit: int, parts: list[int]
) -> None:
    document = Document("Book", (_chapter_of([3], "Short"), _chapter_of(paragraphs)))
    split = split_long_chapters(document, limit)
    assert _sizes(split) == [3, *parts]
    titles = [chapter.title for chapter in split.chapters]
    if len(parts) == 1:
        assert titles == ["Short", "Long"] and split.chapters[1] is document.chapters[1]
    else:
        assert titles == ["Short", *[f"Long (part {n} of {len(parts)})"
                                     for n in range(1, len(parts) + 1)]]
    assert split_long_chapters(document, 0) is document


@settings(max_examples=200, deadline=None)
@given(paragraphs=st.lists(st.integers(1, 40), min_size=1, max_size=30),
       limit=st.integers(1, 60))
def test_parts_keep_every_sentence_in_order_within_the_limit(
    paragraphs: list[int], limit: int
) -> None:
    document = Document(None, (_chapter_of(paragraphs),))
    split = split_long_chapters(document, limit)
    assert all(size <= limit for size in _sizes(split))
    assert [text for *_, text in split.iter_segments()] == [
        text for *_, text in document.iter_segments()]
    # cuts fall between paragraphs unless a paragraph is longer than a part may be
    original_ends = set()
    position = 0
    for size in paragraphs:
        position += size
        original_ends.add(position)
    position = 0
    for size in _sizes(split)[:-1]:
        position += size
        assert position in original_ends or max(paragraphs) > limit / 2


def test_documents_are_read_in_the_voices_language_and_keep_the_users_words() -> None:
    from voxserve.text.documents import Reading

    document = parse_text("# Kapitel 1\n\nAm 3. Mai zahlte Dr. Müller 25,50 €.", markdown=True,
                          reading=Reading(language="de", speak_titles=True))
    title, body = document.chapters[0].paragraphs
    assert title.segments == ("Kapitel eins",) and title.sources == ("Kapitel 1",)
    assert body.segments == (
        "Am dritten Mai zahlte Doktor Müller fünfundzwanzig Euro fünfzig.",)
    assert body.sources == ("Am 3. Mai zahlte Dr. Müller 25,50 €.",)
    assert [row[4] for row in document.iter_sourced()] == [
        "Kapitel 1", "Am 3. Mai zahlte Dr. Müller 25,50 €."]


def test_chapter_titles_are_spoken_only_when_asked() -> None:
    from voxserve.text.documents import Reading

    text = "# Title\n\nBody text."
    assert len(parse_text(text, markdown=True).chapters[0].paragraphs) == 1
    spoken = parse_text(text, markdown=True, reading=Reading(speak_titles=True))
    assert spoken.chapters[0].paragraphs[0].segments == ("Title",)
    assert "[[" in parse_text("Wiki [[link]] text.").chapters[0].paragraphs[0].sources[0]
