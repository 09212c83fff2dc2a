"""Tags on templates: TagResources, UntagResources, ListTagResources, and the tags the
template lists show (GetSmsTemplateList, the console).  Rules in ``core/tags.py``.

Templates are named by TemplateCode; a code that is not the account's — another tenant's or
none — is ``isv.SMS_TEMPLATE_ILLEGAL``, as everywhere else, and nothing is tagged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, update

from pigeon.core import tags as rules
from pigeon.services import templates as templates_service
from pigeon.store.tables import template_tags, templates


def _templates(conn: Connection, account_id: int, codes: list[str]) -> dict[str, int]:
    """``code → id`` of the account's templates ``codes``; the first unknown one raises."""
    found = dict(conn.execute(select(templates.c.code, templates.c.id).where(
        templates.c.account_id == account_id, templates.c.code.in_(codes))).all())
    for code in codes:
        if code not in found:
            templates_service.require(conn, account_id, code)  # raises, naming the code
    return found


def of_templates(conn: Connection, template_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """``template id → {key: value}`` (keys in order) for the templates given."""
    ids = sorted(set(template_ids))
    found: dict[int, dict[str, str]] = defaultdict(dict)
    if ids:
        for row in conn.execute(select(template_tags.c.template_id, template_tags.c.key,
                                       template_tags.c.value)
                                .where(template_tags.c.template_id.in_(ids))
                                .order_by(template_tags.c.template_id, template_tags.c.key)):
            found[row.template_id][row.key] = row.value
    return {i: found.get(i, {}) for i in ids}


def tag(conn: Connection, account_id: int, codes: list[str], given: dict[str, str],
        now: datetime) -> None:
    """TagResources: put every tag of ``given`` on every template of ``codes`` (a key the
    template has already gets the new value)."""
    ids = _templates(conn, account_id, codes)
    existing = of_templates(conn, ids.values())
    for code, template_id in ids.items():
        rules.check_count(code, existing[template_id], given)
    for template_id in ids.values():
        for key, value in given.items():
            if key in existing[template_id]:
                conn.execute(update(template_tags).where(
                    template_tags.c.template_id == template_id, template_tags.c.key == key)
                    .values(value=value))
            else:
                conn.execute(insert(template_tags).values(
                    template_id=template_id, key=key, value=value, account_id=account_id,
                    created_at=now))


def untag(conn: Connection, account_id: int, codes: list[str], keys: list[str],
          everything: bool) -> None:
    """UntagResources: take the tags ``keys`` off the templates — every tag when ``keys`` is
    empty and ``everything`` (``All``); nothing when both are empty."""
    ids = _templates(conn, account_id, codes)
    if not ids or not (keys or everything):
        return
    query = delete(template_tags).where(template_tags.c.template_id.in_(list(ids.values())))
    if keys:
        query = query.where(template_tags.c.key.in_(keys))
    conn.execute(query)


def forget(conn: Connection, template_id: int) -> None:
    """A deleted template's tags go with it."""
    conn.execute(delete(template_tags).where(template_tags.c.template_id == template_id))


def has_tag(filter_text: str):
    """A condition on ``templates``: the template has a tag ``filter_text`` names — a key (any
    value) or ``key:value``.  Used by GetSmsTemplateList's TemplateTag and the console."""
    text = filter_text.strip()
    return exists().where(template_tags.c.template_id == templates.c.id,
                          or_(template_tags.c.key == text,
                              template_tags.c.key + ":" + template_tags.c.value == text))


def listed(conn: Connection, account_id: int, *, codes: list[str], wanted: dict[str, str],
           offset: int, limit: int) -> tuple[list[dict], int | None]:
    """ListTagResources: the (template, key, value) of the account's tagged templates — only
    ``codes`` when given, only templates carrying every tag of ``wanted`` (an empty value: any
    value) — ordered by template and key; returns the page and the offset of the next one
    (``None``: no more)."""
    where = [template_tags.c.account_id == account_id]
    if codes:
        where.append(templates.c.code.in_(codes))
    for key, value in wanted.items():
        alias = template_tags.alias()
        condition = [alias.c.template_id == template_tags.c.template_id, alias.c.key == key]
        if value:
            condition.append(alias.c.value == value)
        where.append(exists().where(and_(*condition)))
    rows = [dict(r) for r in conn.execute(
        select(templates.c.code, template_tags.c.key, template_tags.c.value)
        .join(templates, templates.c.id == template_tags.c.template_id)
        .where(*where).order_by(templates.c.id, template_tags.c.key)
        .limit(limit + 1).offset(offset)).mappings()]
    more = len(rows) > limit
    return rows[:limit], (offset + limit if more else None)


def keys_in_use(conn: Connection, account_id: int) -> list[tuple[str, str, int]]:
    """``(key, value, templates)`` of the account's tags, for the console's tag filter."""
    return [tuple(row) for row in conn.execute(
        select(template_tags.c.key, template_tags.c.value, func.count())
        .where(template_tags.c.account_id == account_id)
        .group_by(template_tags.c.key, template_tags.c.value)
        .order_by(template_tags.c.key, template_tags.c.value)).all()]
