"""Which proof files Pigeon keeps: recognised by their first bytes, never by their names.

Images (jpg/jpeg, png, gif) are the proof files of every form (spec §2.19); qualification
``OtherFiles`` and the ``MoreData`` of signatures and templates may also be pdf, doc or docx.
The image signatures are the ones AddSmsSign's proof files are checked against.
"""

from __future__ import annotations

import io
import zipfile

from pigeon.core.review_rules import SIGN_FILE_MAGIC

DOCUMENT_MAGIC = {
    "pdf": (b"%PDF-",),
    "doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),  # an OLE2 compound file (Word 97–2003)
}
ZIP_MAGIC = b"PK\x03\x04"
ACCEPTED = ("jpg", "jpeg", "png", "gif", "pdf", "doc", "docx")
IMAGE_KINDS = frozenset(SIGN_FILE_MAGIC)


def kind_of(data: bytes) -> str | None:
    """The file's suffix (``jpg`` for any JPEG), or ``None`` if it is none of :data:`ACCEPTED`."""
    for table in (SIGN_FILE_MAGIC, DOCUMENT_MAGIC):
        for suffix, signatures in table.items():
            if data.startswith(signatures):
                return suffix
    if data.startswith(ZIP_MAGIC) and _is_docx(data):
        return "docx"
    return None


def _is_docx(data: bytes) -> bool:
    # A docx is a zip holding word/document.xml; any other zip is not a proof file.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
