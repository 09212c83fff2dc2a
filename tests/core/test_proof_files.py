"""Proof files are recognised by their first bytes, never by their names (pure)."""

import io
import zipfile

import pytest

from pigeon.core.proof_files import ACCEPTED, IMAGE_KINDS, kind_of


def zipped(*names: str, before: bytes = b"") -> bytes:
    """A zip archive holding empty files of these names, after ``before``."""
    buffer = io.BytesIO()
    buffer.write(before)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "")
    return buffer.getvalue()


DOCX = zipped("[Content_Types].xml", "word/document.xml")


@pytest.mark.parametrize(("data", "kind"), [
    # images: any JPEG is a jpg
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpg"),
    (b"\xff\xd8\xff\xe1\x00\x10Exif", "jpg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
    (b"GIF87a\x01\x00", "gif"),
    (b"GIF89a\x01\x00", "gif"),
    # documents
    (b"%PDF-1.7\n", "pdf"),
    (b"%PDF-", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "doc"),
    (DOCX, "docx"),
    (zipped("word/document.xml"), "docx"),
])
def test_each_accepted_kind_is_recognised_by_its_first_bytes(data, kind):
    assert kind_of(data) == kind


@pytest.mark.parametrize("data", [
    b"",
    b"<html><body>licence.png</body></html>",
    b"\xff\xd8",  # a JPEG signature cut short
    b"GIF88a",
    b"%PDF",
    b"\xd0\xcf\x11\xe0",
    b"x%PDF-1.7",  # the signature must come first
    # a zip that is not a Word document: a spreadsheet, a folder of scans, a damaged archive
    zipped("[Content_Types].xml", "xl/workbook.xml"),
    zipped("scans/word/document.xml", "document.xml"),
    zipped(),
    b"PK\x03\x04 not really a zip",
    DOCX[:40],
    # a docx behind other bytes (a zip reader would still open it) does not start as a zip
    zipped("word/document.xml", before=b"MZ self-extracting "),
])
def test_anything_else_is_not_a_proof_file(data):
    assert kind_of(data) is None


def test_the_accepted_kinds_are_the_images_and_three_document_kinds():
    assert set(ACCEPTED) == IMAGE_KINDS | {"pdf", "doc", "docx"}
    assert IMAGE_KINDS == {"jpg", "jpeg", "png", "gif"}
