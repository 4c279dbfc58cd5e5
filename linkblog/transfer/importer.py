"""Bookmark import, the database half: validate parsed entries and store them in one transaction.

Entries are validated with the form's rules, deduplicated by normalised URL (against the database and within the
file), and written in batches with Core executemany. Nothing is federated by default: followers must not get
20,000 posts at once; ``announce_since`` sends only the new bookmarks saved at or after that moment.
A failure anywhere (including a ParseError raised while the file is still being read) rolls everything back.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, bindparam, insert, select, update

from .. import markup
from ..bookmarks import ValidationError, drop_unused_tags, ensure_tag_ids, validate
from ..db import BATCH_SIZE, bulk_insert, utcnow
from ..links import copies
from ..models import BOOKMARKS, BOOKMARK_TAGS, TITLE_MAX
from ..states import Visibility
from ..tags import MAX_TAGS
from .formats.entries import ImportedBookmark, Invalid

if TYPE_CHECKING:
    from ..config import Config

DUPLICATES = ("skip", "merge")


@dataclass
class ImportResult:
    added: int = 0
    merged: int = 0
    skipped: int = 0
    announced: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)
    # Imported, but not exactly as in the file (e.g. merged tags cut at the limit): (url, what happened).
    warnings: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Prepared:
    """An entry validated like the form does, with its Markdown already rendered: ready to insert."""
    url: str
    title: str
    annotation: str
    annotation_html: str
    tags: list[str]
    visibility: str
    toread: bool
    created_at: datetime
    updated_at: datetime


def _naive(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _to_row(item: ImportedBookmark, now: datetime, all_private: bool = False) -> Prepared:
    """Validate like the form does; raises ValidationError."""
    title = " ".join((item.title or "").split())
    if len(title) > TITLE_MAX:  # browsers keep very long page titles; shorten rather than refuse the link
        title = title[:TITLE_MAX - 1] + "…"
    visibility = Visibility.PRIVATE if item.private or all_private else Visibility.PUBLIC
    checked = validate({"url": item.url, "title": title, "annotation": item.description or "",
                        "tags": list(item.tags), "visibility": visibility})
    created = _naive(item.created) or now
    updated = _naive(item.updated) or created
    return Prepared(url=checked.url, title=checked.title, annotation=checked.annotation,
                    annotation_html=markup.render_markdown(checked.annotation), tags=checked.tags,
                visibility=checked.visibility, toread=item.toread, created_at=created,
                updated_at=max(updated, created))


def _united_tags(url: str, tags: list[str], more: list[str], result: ImportResult) -> list[str]:
    """Tags of both, in order, cut at the limit a bookmark may have (with a warning saying so)."""
    united = tags + [t for t in more if t not in tags]
    if len(united) > MAX_TAGS:
        result.warnings.append((url, f"merged tags cut to the limit of {MAX_TAGS}; "
                                     f"left out: {' '.join(united[MAX_TAGS:])}"))
        united = united[:MAX_TAGS]
    return united


def _merge_into(row: Prepared, other: Prepared, result: ImportResult) -> None:
    row.tags = _united_tags(row.url, row.tags, other.tags, result)
    row.toread = row.toread or other.toread
    if not row.annotation and other.annotation:
        row.annotation, row.annotation_html = other.annotation, other.annotation_html
    if (not row.title or row.title == row.url) and other.title and other.title != other.url:
        row.title = other.title


def parse_announce_since(text: str, tz: str) -> datetime:
    """'2026-11-01' (midnight in the site's time zone) or an ISO date and time, as a UTC moment."""
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date: write it as YYYY-MM-DD (or YYYY-MM-DDTHH:MM).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(timezone.utc)


def _reason(exc: ValidationError) -> str:
    return " ".join(exc.errors.values())


def prepare(items: Iterable[ImportedBookmark | Invalid], all_private: bool = False) -> Iterator[Prepared | Invalid]:
    """Parsed entries validated and rendered (the CPU-heavy half, which may run in another process);
    ``all_private`` makes every one private whatever the file says."""
    now = utcnow().replace(microsecond=0)
    for seen, item in enumerate(items, 1):
        if isinstance(item, Invalid):
            yield item
            continue
        try:
            yield _to_row(item, now, all_private)
        except ValidationError as exc:
            yield Invalid(f"entry {seen}", _reason(exc))


def import_bookmarks(engine: Engine, items: Iterable[ImportedBookmark | Invalid], *, all_private: bool = False,
                     **options: Any) -> ImportResult:
    """Validate and store parsed ``items``; see store() for the options."""
    return store(engine, prepare(items, all_private), **options)


def store(engine: Engine, entries: Iterable[Prepared | Invalid], *, duplicates: str = "skip",
          progress: Callable[[int], None] | None = None, announce_since: datetime | None = None,
          config: "Config | None" = None, copy_pages: bool = False) -> ImportResult:
    """Store prepared entries in ONE transaction; ``progress(n)`` is called with the entries handled so far.
    With ``announce_since`` (and ``config``) the bookmarks added that were saved at or after it are sent to
    followers, oldest first, in the same transaction. ``copy_pages`` queues a page copy of each bookmark added
    (the worker paces them: ``[copies] import_interval``)."""
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {', '.join(DUPLICATES)}")
    if announce_since is not None and config is None:
        raise ValueError("announcing imported bookmarks needs the site's config")
    since = _naive(announce_since)
    to_announce: list[tuple[datetime, int]] = []
    result = ImportResult()
    seen = 0
    with engine.begin() as conn:
        batch: dict[str, Prepared] = {}
        for row in entries:
            seen += 1
            if isinstance(row, Invalid):
                result.invalid.append((row.position, row.reason))
            else:
                earlier = batch.get(row.url)
                if earlier is None:
                    batch[row.url] = row
                elif duplicates == "merge":
                    _merge_into(earlier, row, result)
                    result.merged += 1
                else:
                    result.skipped += 1
            if len(batch) >= BATCH_SIZE:
                to_announce += write_batch(conn, batch, duplicates, result, since, copy_pages)
                batch = {}
                if progress:
                    progress(seen)
        to_announce += write_batch(conn, batch, duplicates, result, since, copy_pages)
        if result.warnings:
            drop_unused_tags(conn)  # tags cut at the limit were created for the batch but are not used
        if to_announce and config is not None:
            from ..federation import publish

            for _, bookmark_id in sorted(to_announce):
                if publish.bookmark_saved(conn, config, bookmark_id, before=None):
                    result.announced += 1
        if progress:
            progress(seen)
    return result


def write_batch(conn, batch: dict[str, Prepared], duplicates: str, result: ImportResult,  # noqa: ANN001
                since: datetime | None, copy_pages: bool = False) -> list[tuple[datetime, int]]:
    """Write one batch; returns (created_at, id) of the added bookmarks saved at or after ``since``."""
    if not batch:
        return []
    announce: list[tuple[datetime, int]] = []
    existing = {r.url: r for r in conn.execute(
        select(BOOKMARKS.c.id, BOOKMARKS.c.url, BOOKMARKS.c.title, BOOKMARKS.c.annotation, BOOKMARKS.c.tags_text,
               BOOKMARKS.c.visibility, BOOKMARKS.c.created_at)
        .where(BOOKMARKS.c.url.in_(list(batch)))).all()}
    new = [row for url, row in batch.items() if url not in existing]
    tag_names = sorted({t for row in batch.values() for t in row.tags})
    tag_ids = ensure_tag_ids(conn, tag_names)

    if new:
        bulk_insert(conn, BOOKMARKS, [{
            "url": r.url, "title": r.title, "annotation": r.annotation,
            "annotation_html": r.annotation_html, "quote": "", "tags_text": " ".join(r.tags),
            "visibility": r.visibility, "toread": r.toread, "created_at": r.created_at,
            "updated_at": r.updated_at,
        } for r in new])
        ids = dict(conn.execute(select(BOOKMARKS.c.url, BOOKMARKS.c.id)
                                .where(BOOKMARKS.c.url.in_([r.url for r in new]))).all())
        links = [{"bookmark_id": ids[r.url], "tag_id": tag_ids[t], "listed": r.visibility == Visibility.PUBLIC,
                  "created_at": r.created_at} for r in new for t in r.tags]
        bulk_insert(conn, BOOKMARK_TAGS, links)
        if copy_pages:
            copies.queue_many(conn, ((ids[r.url], r.url) for r in new), imported=True)
        result.added += len(new)
        if since is not None:
            announce = [(r.created_at, ids[r.url]) for r in new if r.created_at >= since]

    dupes = [(existing[url], row) for url, row in batch.items() if url in existing]
    if duplicates == "skip":
        result.skipped += len(dupes)
        return announce
    updates, links = [], []
    for old, row in dupes:
        result.merged += 1
        tags = old.tags_text.split()
        added = [t for t in _united_tags(old.url, tags, row.tags, result) if t not in tags]
        annotation = old.annotation or row.annotation
        title = old.title if old.title and old.title != old.url else row.title
        if not added and annotation == old.annotation and title == old.title:
            continue
        updates.append({"b_id": old.id, "b_title": title, "b_annotation": annotation,
                        "b_html": markup.render_markdown(annotation), "b_tags": " ".join(tags + added)})
        links += [{"bookmark_id": old.id, "tag_id": tag_ids[t], "listed": old.visibility == Visibility.PUBLIC,
                   "created_at": old.created_at} for t in added]
    if updates:
        conn.execute(update(BOOKMARKS).where(BOOKMARKS.c.id == bindparam("b_id")).values(
            title=bindparam("b_title"), annotation=bindparam("b_annotation"), annotation_html=bindparam("b_html"),
            tags_text=bindparam("b_tags"), updated_at=utcnow()), updates)
    if links:
        conn.execute(insert(BOOKMARK_TAGS), links)
    return announce
