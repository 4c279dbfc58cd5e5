"""Every write to bookmarks and tags: validate first, then change everything in one transaction."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update

from . import markup
from .config import VISIBILITIES
from .db import dialect_insert, utcnow
from .links import copies
from .models import ANNOTATION_MAX, BOOKMARKS, BOOKMARK_TAGS, OWNER_TABLE, QUOTE_MAX, TAGS, TITLE_MAX
from .queries.bookmarks import bookmark as stored_bookmark, id_by_url
from .queries.owner import is_the_owner
from .states import Visibility
from .tags import InvalidTag, clean_tag, parse_tags
from .urls import InvalidURL, normalise_url

if TYPE_CHECKING:
    from .config import Config


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")  # control characters other than tab and newline


class ValidationError(ValueError):
    """Bad input; ``errors`` maps each field to a message the owner can act on."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class DuplicateBookmark(Exception):
    def __init__(self, bookmark_id: int):
        super().__init__(f"already saved as bookmark {bookmark_id}")
        self.bookmark_id = bookmark_id


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class BookmarkInput:
    url: str
    title: str
    annotation: str
    quote: str
    tags: list[str]
    visibility: str
    toread: bool = False  # the owner's own reminder: never shown to anyone else, never federated


def _flag(value: Any) -> bool:
    """A form checkbox ("1", "on") or a JSON boolean."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "on", "true", "yes")
    return value is True


def _text(data: dict[str, Any], key: str, limit: int, errors: dict[str, str], label: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[key] = f"{label} must be text."
        return ""
    value = value.replace("\r\n", "\n").strip()
    if _CONTROL.search(value):
        errors[key] = f"{label} contains control characters."
    elif len(value) > limit:
        errors[key] = f"{label} is {len(value):,} characters long; the limit is {limit:,}."
    return value


def validate(data: dict[str, Any], default_visibility: str = Visibility.PUBLIC,
             partial: BookmarkInput | None = None) -> BookmarkInput:
    """Check every field and collect all problems at once; ``partial`` fills fields left out (PATCH)."""
    if partial is not None:
        base = {"url": partial.url, "title": partial.title, "annotation": partial.annotation,
                "quote": partial.quote, "tags": partial.tags, "visibility": partial.visibility,
                "toread": partial.toread}
        data = {**base, **{k: v for k, v in data.items() if k in base}}
    errors: dict[str, str] = {}
    url = ""
    raw_url = data.get("url")
    if not isinstance(raw_url, str):
        errors["url"] = "Enter the address of the page, starting with http:// or https://."
    else:
        try:
            url = normalise_url(raw_url)
        except InvalidURL as exc:
            errors["url"] = str(exc)
    title = " ".join(_text(data, "title", TITLE_MAX, errors, "The title").split())
    annotation = _text(data, "annotation", ANNOTATION_MAX, errors, "The annotation")
    quote = _text(data, "quote", QUOTE_MAX, errors, "The quote")
    try:
        tags = parse_tags(data.get("tags"))
    except InvalidTag as exc:
        errors["tags"] = str(exc)
        tags = []
    visibility = data.get("visibility") or default_visibility
    if visibility not in VISIBILITIES:
        errors["visibility"] = f"Visibility must be one of {', '.join(VISIBILITIES)} (got {visibility!r})."
    if errors:
        raise ValidationError(errors)
    return BookmarkInput(url=url, title=title or url, annotation=annotation, quote=quote, tags=tags,
                         visibility=visibility, toread=_flag(data.get("toread")))


def ensure_tag_ids(conn: Connection, names: list[str]) -> dict[str, int]:
    """Ids of the named tags, creating those that do not exist yet."""
    if not names:
        return {}
    found = dict(conn.execute(select(TAGS.c.name, TAGS.c.id).where(TAGS.c.name.in_(names))).all())
    missing = [n for n in names if n not in found]
    if missing:
        conn.execute(dialect_insert(conn, TAGS).on_conflict_do_nothing(index_elements=["name"]),
                     [{"name": n} for n in missing])
        found.update(conn.execute(select(TAGS.c.name, TAGS.c.id).where(TAGS.c.name.in_(missing))).all())
    return found


def _write_tags(conn: Connection, bookmark_id: int, names: list[str], visibility: str,
                created_at: datetime) -> None:
    conn.execute(delete(BOOKMARK_TAGS).where(BOOKMARK_TAGS.c.bookmark_id == bookmark_id))
    ids = ensure_tag_ids(conn, names)
    if ids:
        conn.execute(insert(BOOKMARK_TAGS), [{"bookmark_id": bookmark_id, "tag_id": ids[n],
                                              "listed": visibility == Visibility.PUBLIC,
                                              "created_at": created_at} for n in names])


def create(conn: Connection, item: BookmarkInput, created_at: datetime | None = None,
           config: "Config | None" = None, via: tuple[str, str | None] | None = None,
           copy_page: bool = False) -> int:
    """Insert a bookmark; a URL already saved raises DuplicateBookmark with the existing id.
    With ``config`` the bookmark is federated to followers (imports leave it out); ``via`` is the
    (actor, post) it was found through, credited when federated; ``copy_page`` queues the fetch of its page
    (``links.copies``; callers ask ``copies.wanted``) in the same transaction."""
    existing = id_by_url(conn, item.url)
    if existing is not None:
        raise DuplicateBookmark(existing)
    now = utcnow()
    created_at = created_at or now
    bookmark_id = conn.execute(insert(BOOKMARKS).values(
        url=item.url, title=item.title, annotation=item.annotation,
        annotation_html=markup.render_markdown(item.annotation), quote=item.quote,
        tags_text=" ".join(item.tags), visibility=item.visibility, toread=item.toread, created_at=created_at,
        updated_at=now,
        via_actor_uri=via[0] if via else None, via_post_uri=via[1] if via else None,
    ).returning(BOOKMARKS.c.id)).scalar_one()
    _write_tags(conn, bookmark_id, item.tags, item.visibility, created_at)
    if copy_page:
        copies.queue(conn, bookmark_id, item.url)
    if config is not None:
        from .federation import publish

        publish.bookmark_saved(conn, config, bookmark_id, before=None)
    return bookmark_id


def input_of(item: dict[str, Any]) -> BookmarkInput:
    """A stored bookmark (``queries.bookmarks.bookmark``) as the input its form or a PATCH starts from."""
    return BookmarkInput(url=item["url"], title=item["title"], annotation=item["annotation"], quote=item["quote"],
                         tags=item["tags_text"].split(), visibility=item["visibility"], toread=bool(item["toread"]))


def load(conn: Connection, bookmark_id: int) -> BookmarkInput:
    item = stored_bookmark(conn, bookmark_id)
    if item is None:
        raise NotFound(bookmark_id)
    return input_of(item)


def edit(conn: Connection, bookmark_id: int, item: BookmarkInput, config: "Config | None" = None) -> bool:
    """Save changes; returns whether anything changed. Only a visible change moves ``updated_at`` and is
    federated: the to-read flag is the owner's own."""
    row = conn.execute(select(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id)).mappings().first()
    if row is None:
        raise NotFound(bookmark_id)
    if item.url != row["url"]:
        other = id_by_url(conn, item.url)
        if other is not None and other != bookmark_id:
            raise DuplicateBookmark(other)
    before = (row["url"], row["title"], row["annotation"], row["quote"], row["tags_text"], row["visibility"])
    after = (item.url, item.title, item.annotation, item.quote, " ".join(item.tags), item.visibility)
    if item.toread != bool(row["toread"]):
        conn.execute(update(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id).values(toread=item.toread))
        note_change(conn)
        if before == after:
            return True
    if before == after:
        return False
    conn.execute(update(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id).values(
        url=item.url, title=item.title, annotation=item.annotation,
        annotation_html=markup.render_markdown(item.annotation), quote=item.quote,
        tags_text=" ".join(item.tags), visibility=item.visibility, updated_at=utcnow(),
    ))
    _write_tags(conn, bookmark_id, item.tags, item.visibility, row["created_at"])
    drop_unused_tags(conn)
    if item.url != row["url"]:
        copies.address_changed(conn, bookmark_id, item.url)
    if config is not None:
        from .federation import publish

        publish.bookmark_saved(conn, config, bookmark_id, before=row["visibility"])
    return True


def remove(conn: Connection, bookmark_id: int, config: "Config | None" = None) -> None:
    visibility = conn.execute(select(BOOKMARKS.c.visibility).where(BOOKMARKS.c.id == bookmark_id)).scalar()
    if visibility is None or conn.execute(delete(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id)).rowcount == 0:
        raise NotFound(bookmark_id)
    drop_unused_tags(conn)
    note_change(conn)
    if config is not None:
        from .federation import publish

        publish.bookmark_deleted(conn, config, bookmark_id, visibility=visibility)


def mark_read(conn: Connection, bookmark_id: int) -> bool:
    """Clear the owner's to-read flag (never federated, so followers hear nothing); False if it was clear."""
    if conn.execute(select(BOOKMARKS.c.id).where(BOOKMARKS.c.id == bookmark_id)).first() is None:
        raise NotFound(bookmark_id)
    cleared = conn.execute(update(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id, BOOKMARKS.c.toread.is_(True))
                           .values(toread=False)).rowcount > 0
    if cleared:
        note_change(conn)
    return cleared


def note_change(conn: Connection) -> None:
    """Remember that the bookmarks changed now, where no row can say so: a delete, or the owner's to-read flag
    (which leaves ``updated_at`` alone). Sync apps ask for it (/v1/posts/update)."""
    conn.execute(update(OWNER_TABLE).where(is_the_owner()).values(bookmarks_changed_at=utcnow()))


def move_saved_at(conn: Connection, bookmark_id: int, created_at: datetime) -> None:
    """Date a bookmark as saved at ``created_at`` (a Pinboard app sending ``dt`` with a replace); its tag rows
    copy the time so tag pages stay in order. Followers are not told: the saved time is not an edit."""
    if conn.execute(update(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id, BOOKMARKS.c.created_at != created_at)
                    .values(created_at=created_at)).rowcount:
        conn.execute(update(BOOKMARK_TAGS).where(BOOKMARK_TAGS.c.bookmark_id == bookmark_id)
                     .values(created_at=created_at))
        note_change(conn)


def remove_tag(conn: Connection, name: str, config: "Config | None" = None) -> int:
    """Take the tag off every bookmark that has it, then delete it (linkding's tag delete). Each bookmark changes
    as an edit would, so followers hear of the public ones. Returns the bookmarks changed."""
    tag_id = conn.execute(select(TAGS.c.id).where(TAGS.c.name == name)).scalar()
    if tag_id is None:
        raise NotFound(name)
    tagged = conn.execute(select(BOOKMARK_TAGS.c.bookmark_id).where(BOOKMARK_TAGS.c.tag_id == tag_id)).scalars().all()
    for bookmark_id in tagged:
        item = load(conn, bookmark_id)
        edit(conn, bookmark_id, replace(item, tags=[t for t in item.tags if t != name]), config=config)
    conn.execute(delete(TAGS).where(TAGS.c.id == tag_id))
    return len(tagged)


def set_archived(conn: Connection, bookmark_id: int, archived: bool) -> bool:
    """File a bookmark away from the owner's home and reading list, or bring it back; False if it already was.
    The owner's own state, like to-read: followers hear nothing, ``updated_at`` stays, readers still see it."""
    if conn.execute(select(BOOKMARKS.c.id).where(BOOKMARKS.c.id == bookmark_id)).first() is None:
        raise NotFound(bookmark_id)
    return conn.execute(update(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id, BOOKMARKS.c.archived.is_(not archived))
                        .values(archived=archived)).rowcount > 0


def drop_unused_tags(conn: Connection) -> None:
    """Delete tags that no bookmark uses any more."""
    conn.execute(delete(TAGS).where(~select(BOOKMARK_TAGS.c.tag_id).where(BOOKMARK_TAGS.c.tag_id == TAGS.c.id)
                                    .exists()))


def rename_tag(conn: Connection, old: str, new: str) -> int:
    """Rename ``old`` to ``new``; if ``new`` exists the two are merged. Returns bookmarks touched."""
    errors: dict[str, str] = {}
    old_name = new_name = ""
    try:
        old_name = clean_tag(old)
    except InvalidTag as exc:
        errors["old"] = str(exc)
    try:
        new_name = clean_tag(new)
    except InvalidTag as exc:
        errors["new"] = str(exc)
    if errors:  # each message belongs to the field that caused it
        raise ValidationError(errors)
    old_id = conn.execute(select(TAGS.c.id).where(TAGS.c.name == old_name)).scalar()
    if old_id is None:
        raise NotFound(old_name)
    if old_name == new_name:
        return 0
    affected = conn.execute(
        select(BOOKMARKS.c.id, BOOKMARKS.c.tags_text).join(BOOKMARK_TAGS, BOOKMARK_TAGS.c.bookmark_id == BOOKMARKS.c.id)
        .where(BOOKMARK_TAGS.c.tag_id == old_id)
    ).all()
    new_id = conn.execute(select(TAGS.c.id).where(TAGS.c.name == new_name)).scalar()
    if new_id is None:
        conn.execute(update(TAGS).where(TAGS.c.id == old_id).values(name=new_name))
    else:
        already = select(BOOKMARK_TAGS.c.bookmark_id).where(BOOKMARK_TAGS.c.tag_id == new_id).scalar_subquery()
        conn.execute(delete(BOOKMARK_TAGS).where(BOOKMARK_TAGS.c.tag_id == old_id,
                                                 BOOKMARK_TAGS.c.bookmark_id.in_(already)))
        conn.execute(update(BOOKMARK_TAGS).where(BOOKMARK_TAGS.c.tag_id == old_id).values(tag_id=new_id))
        conn.execute(delete(TAGS).where(TAGS.c.id == old_id))
    now = utcnow()
    for bookmark_id, tags_text in affected:
        names: list[str] = []
        for name in tags_text.split():
            name = new_name if name == old_name else name
            if name not in names:
                names.append(name)
        conn.execute(update(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id)
                     .values(tags_text=" ".join(names), updated_at=now))
    return len(affected)


def delete_tag(conn: Connection, name: str) -> int:
    """Take the tag NAME off every bookmark and delete it; returns the bookmarks touched (NotFound if no
    bookmark has it). Like ``rename_tag``, followers are not sent an Update for each bookmark."""
    try:
        tag_name = clean_tag(name)
    except InvalidTag as exc:
        raise ValidationError({"tag": str(exc)}) from None
    tag_id = conn.execute(select(TAGS.c.id).where(TAGS.c.name == tag_name)).scalar()
    if tag_id is None:
        raise NotFound(tag_name)
    affected = conn.execute(
        select(BOOKMARKS.c.id, BOOKMARKS.c.tags_text).join(BOOKMARK_TAGS, BOOKMARK_TAGS.c.bookmark_id == BOOKMARKS.c.id)
        .where(BOOKMARK_TAGS.c.tag_id == tag_id)
    ).all()
    conn.execute(delete(BOOKMARK_TAGS).where(BOOKMARK_TAGS.c.tag_id == tag_id))
    conn.execute(delete(TAGS).where(TAGS.c.id == tag_id))
    now = utcnow()
    for bookmark_id, tags_text in affected:
        conn.execute(update(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id)
                     .values(tags_text=" ".join(t for t in tags_text.split() if t != tag_name), updated_at=now))
    return len(affected)
