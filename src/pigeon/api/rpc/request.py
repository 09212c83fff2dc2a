"""An RPC request as received: decoded parameters, raw body, headers.

The official SDKs spread parameters over the query string and an
``application/x-www-form-urlencoded`` body, encode them three different ways (spec/wire.md §3)
and sign them two ways; this is the one decoded form that the signature verifier and the
actions both read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from pigeon.api.rpc.signing import is_encoded, is_encoded_form, percent_encode
from pigeon.core.errors import PigeonError

FORM_TYPE = "application/x-www-form-urlencoded"


def decode_pairs(text: str, *, what: str) -> list[tuple[str, str]]:
    """Decode ``a=1&b=x+y`` with form rules (``+`` is a space), UTF-8, blanks kept.

    The result of ``parse_qsl(text, keep_blank_values=True, errors="strict")``, a third
    faster: only the parts that hold a ``+`` or a ``%`` are rewritten (on every request).
    """
    pairs = []
    try:
        for piece in text.split("&") if text else ():
            if not piece:
                continue
            name, _, value = piece.partition("=")  # no "=": the value is blank
            pairs.append((_decoded(name), _decoded(value)))
    except (UnicodeDecodeError, ValueError):
        raise PigeonError("InvalidParameter", f"The {what} is not valid UTF-8 form encoding.") \
            from None
    return pairs


def _decoded(part: str) -> str:
    """One name or value of a form: ``+`` is a space, ``%XX`` a byte of UTF-8 (strict)."""
    if "+" in part:
        part = part.replace("+", " ")
    if "%" in part:
        if part.isascii() and "\\" not in part:
            # unquote() in C, three times as fast (on every SendSms: its time, its signature's
            # name, its template's parameters): each "%XX" becomes the escape "\xXX" of the
            # unicode_escape codec, whose characters U+0000-U+00FF are the bytes, decoded as
            # UTF-8 then.  Only where no backslash is there already for the codec to read; a
            # "%" that starts no escape ("%zz", "%2" at the end) fails the codec, and
            # unquote() decides (it leaves such a "%" as it is).
            try:
                return (part.replace("%", "\\x").encode("ascii").decode("unicode_escape")
                        .encode("latin-1").decode("utf-8"))
            except UnicodeDecodeError:
                pass
        part = unquote(part, encoding="utf-8", errors="strict")
    return part


def encoded_pairs(text: str, *, without: str | None = None) -> list[tuple[str, str]]:
    """The pairs of ``text`` as :func:`decode_pairs` finds them (its UTF-8 already checked
    there), but for those named ``without``, each name and value as ``percent_encode`` writes
    its decoded text.  The SDKs mostly send every part that way already (``is_encoded``): then
    the parts on the wire are taken as they are, the whole text checked at once, without
    decoding and encoding each again (a third of a SendSms's signature check)."""
    whole = is_encoded_form(text)
    pairs = []
    for piece in text.split("&") if text else ():
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if not whole and not is_encoded(name):
            name = percent_encode(_decoded(name))
        if name == without:  # (no other name's encoding is the same)
            continue
        if not whole or "=" in value:
            if not is_encoded(value):
                value = percent_encode(_decoded(value))
        pairs.append((name, value))
    return pairs


@dataclass
class RpcRequest:
    method: str  # "GET" or "POST"
    query: list[tuple[str, str]]  # decoded query parameters, in wire order
    form: list[tuple[str, str]]  # decoded form-body parameters ([] when the body is not a form)
    body: bytes  # raw body bytes, as hashed by V3 signatures
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ","
    params: dict[str, str] = field(default_factory=dict)  # query + form merged
    query_text: str = ""  # the query string as received
    form_text: str = ""  # the form body as received ("" when the body is not a form)

    @classmethod
    def build(cls, method: str, query_string: str, headers: Mapping[str, str], body: bytes):
        query = decode_pairs(query_string, what="query string")
        form: list[tuple[str, str]] = []
        text = ""
        content_type = headers.get("content-type", "")
        if body and content_type.split(";", 1)[0].strip().lower() == FORM_TYPE:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise PigeonError("InvalidParameter", "The request body is not valid UTF-8.") \
                    from None
            form = decode_pairs(text, what="request body")
        for name, value in (*query, *form):
            if "\x00" in name or "\x00" in value:
                # No text column (PostgreSQL's least of all) can hold a NUL character.
                raise PigeonError.invalid(name.replace("\x00", "") or "Parameter",
                                          "It contains a NUL character.")
        params: dict[str, str] = {}
        for name, value in query:
            params.setdefault(name, value)
        for name, value in form:
            params.setdefault(name, value)
        return cls(method=method.upper(), query=query, form=form, body=body, headers=headers,
                   params=params, query_text=query_string, form_text=text if form else "")

    def encoded(self, *, without: str | None = None,
                form: bool = True) -> list[tuple[str, str]]:
        """The query's and (with ``form``) the form body's parameters in wire order but those
        named ``without``, each name and value as ``percent_encode`` writes its decoded text:
        what both signatures canonicalise (V1 every parameter, V3 the query's)."""
        pairs = encoded_pairs(self.query_text, without=without)
        if form and self.form_text:
            pairs += encoded_pairs(self.form_text, without=without)
        return pairs

    @property
    def is_v3(self) -> bool:
        """Whether the request is signed the V3 way (``Authorization: ACS3-…``): its
        ``x-acs-*`` headers are signed, a V1 request's headers are not."""
        return self.headers.get("authorization", "").lstrip().startswith("ACS3-")

    @property
    def action(self) -> str | None:
        # Only what the signature covers: the Action parameter, or a V3 request's signed
        # x-acs-action header.  A V1 signature covers no header, so a V1 request without
        # Action has none — a header added or rewritten on the way must not pick it.
        return self.params.get("Action") or (
            self.headers.get("x-acs-action") if self.is_v3 else None)

    @property
    def version(self) -> str | None:
        return self.params.get("Version") or (
            self.headers.get("x-acs-version") if self.is_v3 else None)
