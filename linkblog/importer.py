"""Bookmark import, the database half: validate parsed entries and store them in one transaction.

Entries are validated with the form's rules, deduplicated by normalised URL (against the database and within the
file), and written in batches with Core executemany. Nothing is federated: an import writes no outbox rows.
A failure anywhere (including a ParseError raised while the file is still being read) rolls everything back.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, bindparam, insert, select, update

from . import markup
from .bookmarks import B, BT, ValidationError, _tag_ids, validate
from .db import utcnow
from .importexport import ImportedBookmark, Invalid
from .models import TITLE_MAX

BATCH = 1000
DUPLICATES = ("skip", "merge")


@dataclass
class ImportResult:
    added: int = 0
    merged: int = 0
    skipped: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Row:
    url: str
    title: str
    annotation: str
    tags: list[str]
    visibility: str
    created_at: datetime
    updated_at: datetime


def _naive(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is not None:
        from datetime import timezone

        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _to_row(item: ImportedBookmark, now: datetime) -> _Row:
    """Validate like the form does; raises ValidationError."""
    title = " ".join((item.title or "").split())
    if len(title) > TITLE_MAX:  # browsers keep very long page titles; shorten rather than refuse the link
        title = title[:TITLE_MAX - 1] + "…"
    checked = validate({"url": item.url, "title": title, "annotation": item.description or "",
                        "tags": list(item.tags), "visibility": "private" if item.private else "public"})
    created = _naive(item.created) or now
    updated = _naive(item.updated) or created
    return _Row(url=checked.url, title=checked.title, annotation=checked.annotation, tags=checked.tags,
                visibility=checked.visibility, created_at=created, updated_at=max(updated, created))


def _merge_into(row: _Row, other: _Row) -> None:
    row.tags = row.tags + [t for t in other.tags if t not in row.tags]
    if not row.annotation and other.annotation:
        row.annotation = other.annotation
    if (not row.title or row.title == row.url) and other.title and other.title != other.url:
        row.title = other.title


def _reason(exc: ValidationError) -> str:
    return " ".join(exc.errors.values())


def import_bookmarks(engine: Engine, items: Iterable[ImportedBookmark | Invalid], *, duplicates: str = "skip",
                     progress: Callable[[int], None] | None = None) -> ImportResult:
    """Store ``items`` in ONE transaction; ``progress(n)`` is called with the entries handled so far."""
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {', '.join(DUPLICATES)}")
    result = ImportResult()
    now = utcnow().replace(microsecond=0)
    seen = 0
    with engine.begin() as conn:
        batch: dict[str, _Row] = {}
        for item in items:
            seen += 1
            if isinstance(item, Invalid):
                result.invalid.append((item.position, item.reason))
            else:
                try:
                    row = _to_row(item, now)
                except ValidationError as exc:
                    result.invalid.append((f"entry {seen}", _reason(exc)))
                else:
                    earlier = batch.get(row.url)
                    if earlier is None:
                        batch[row.url] = row
                    elif duplicates == "merge":
                        _merge_into(earlier, row)
                        result.merged += 1
                    else:
                        result.skipped += 1
            if len(batch) >= BATCH:
                _flush(conn, batch, duplicates, result)
                batch = {}
                if progress:
                    progress(seen)
        _flush(conn, batch, duplicates, result)
        if progress:
            progress(seen)
    return result


def _flush(conn, batch: dict[str, _Row], duplicates: str, result: ImportResult) -> None:  # noqa: ANN001
    if not batch:
        return
    existing = {r.url: r for r in conn.execute(
        select(B.c.id, B.c.url, B.c.title, B.c.annotation, B.c.tags_text, B.c.visibility, B.c.created_at)
        .where(B.c.url.in_(list(batch)))).all()}
    new = [row for url, row in batch.items() if url not in existing]
    tag_names = sorted({t for row in batch.values() for t in row.tags})
    tag_ids = _tag_ids(conn, tag_names)

    if new:
        conn.execute(insert(B), [{
            "url": r.url, "title": r.title, "annotation": r.annotation,
            "annotation_html": markup.render_markdown(r.annotation), "quote": "", "tags_text": " ".join(r.tags),
            "visibility": r.visibility, "created_at": r.created_at, "updated_at": r.updated_at,
        } for r in new])
        ids = dict(conn.execute(select(B.c.url, B.c.id).where(B.c.url.in_([r.url for r in new]))).all())
        links = [{"bookmark_id": ids[r.url], "tag_id": tag_ids[t], "listed": r.visibility == "public",
                  "created_at": r.created_at} for r in new for t in r.tags]
        if links:
            conn.execute(insert(BT), links)
        result.added += len(new)

    dupes = [(existing[url], row) for url, row in batch.items() if url in existing]
    if duplicates == "skip":
        result.skipped += len(dupes)
        return
    updates, links = [], []
    for old, row in dupes:
        result.merged += 1
        tags = old.tags_text.split()
        added = [t for t in row.tags if t not in tags]
        annotation = old.annotation or row.annotation
        title = old.title if old.title and old.title != old.url else row.title
        if not added and annotation == old.annotation and title == old.title:
            continue
        updates.append({"b_id": old.id, "b_title": title, "b_annotation": annotation,
                        "b_html": markup.render_markdown(annotation), "b_tags": " ".join(tags + added)})
        links += [{"bookmark_id": old.id, "tag_id": tag_ids[t], "listed": old.visibility == "public",
                   "created_at": old.created_at} for t in added]
    if updates:
        conn.execute(update(B).where(B.c.id == bindparam("b_id")).values(
            title=bindparam("b_title"), annotation=bindparam("b_annotation"), annotation_html=bindparam("b_html"),
            tags_text=bindparam("b_tags"), updated_at=utcnow()), updates)
    if links:
        conn.execute(insert(BT), links)
