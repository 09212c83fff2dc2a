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
            if "+" in name:
                name = name.replace("+", " ")
            if "%" in name:
                name = unquote(name, encoding="utf-8", errors="strict")
            if "+" in value:
                value = value.replace("+", " ")
            if "%" in value:
                value = unquote(value, encoding="utf-8", errors="strict")
            pairs.append((name, value))
    except (UnicodeDecodeError, ValueError):
        raise PigeonError("InvalidParameter", f"The {what} is not valid UTF-8 form encoding.") \
            from None
    return pairs


@dataclass
class RpcRequest:
    method: str  # "GET" or "POST"
    query: list[tuple[str, str]]  # decoded query parameters, in wire order
    form: list[tuple[str, str]]  # decoded form-body parameters ([] when the body is not a form)
    body: bytes  # raw body bytes, as hashed by V3 signatures
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ","
    params: dict[str, str] = field(default_factory=dict)  # query + form merged

    @classmethod
    def build(cls, method: str, query_string: str, headers: Mapping[str, str], body: bytes):
        query = decode_pairs(query_string, what="query string")
        form: list[tuple[str, str]] = []
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
                   params=params)

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
