"""The owner's answers to broken and moved links (``/admin/links``): use the redirect target, show the copy
instead, mark as checked-fine, delete. Each acts on one or many bookmarks in the caller's transaction and
returns a line for the owner; a URL change and a delete go through ``bookmarks`` so followers hear of them."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import Connection, select, update

from .. import bookmarks
from ..db import utcnow
from ..models import LINK_CHECKS
from ..states import LinkState
from ..urls import InvalidURL, normalise_url
from . import copies

if TYPE_CHECKING:
    from ..config import Config

ACTIONS = ("update", "copy", "no-copy", "fine", "delete")
MAX_BULK = 500   # bookmarks one bulk action may name


class NotApplicable(ValueError):
    """The action makes no sense for these links (e.g. no redirect target); the message says why."""


def use_redirect(conn: Connection, ids: Iterable[int], config: Config | None, now: datetime | None = None) -> str:
    """Each moved link becomes its redirect target (an Update for followers); the link is checked again soon."""
    now = now or utcnow()
    done, skipped = 0, []
    rows = conn.execute(select(LINK_CHECKS.c.bookmark_id, LINK_CHECKS.c.redirect_url)
                        .where(LINK_CHECKS.c.bookmark_id.in_(list(ids)), LINK_CHECKS.c.redirect_url.is_not(None)))
    for bookmark_id, target in rows.all():
        try:
            item = dataclasses.replace(bookmarks.load(conn, bookmark_id), url=normalise_url(target))
            bookmarks.edit(conn, bookmark_id, item, config=config)
        except (InvalidURL, bookmarks.DuplicateBookmark, bookmarks.NotFound):
            skipped.append(bookmark_id)
            continue
        conn.execute(update(LINK_CHECKS).where(LINK_CHECKS.c.bookmark_id == bookmark_id).values(
            state=LinkState.OK, state_since=now, redirect_url=None, next_check_at=now, failures=0,
            first_failure_at=None, etag=None, last_modified=None, reason="Updated to the redirect target"))
        done += 1
    if not done and not skipped:
        raise NotApplicable("None of these links has a redirect target to update to.")
    return (f"Updated {done} link{'s' if done != 1 else ''} to {'their' if done != 1 else 'its'} redirect target."
            + (f" Left {len(skipped)} alone (the target is already saved, or not a valid address)." if skipped else ""))


def show_copy(conn: Connection, ids: Iterable[int], on: bool) -> str:
    """Public pages link the saved copy instead of the page (or stop doing so): readers may then read that
    copy whatever ``[copies] readers_may_see`` says (off again: the setting decides)."""
    ids = list(ids)
    count = conn.execute(update(LINK_CHECKS).where(LINK_CHECKS.c.bookmark_id.in_(ids)).values(show_copy=on)).rowcount
    for bookmark_id in ids:
        copies.set_readers(conn, bookmark_id, True if on else None)
    if not on:
        return f"Public pages link the page itself again for {count} link{'s' if count != 1 else ''}."
    without = sum(1 for bookmark_id in ids if copies.copy_text(conn, bookmark_id) is None)
    return (f"Public pages now offer the saved copy for {count} link{'s' if count != 1 else ''}."
            + (f" {without} {'has' if without == 1 else 'have'} no saved copy yet: readers are offered the Wayback "
               "Machine's copy until one is made." if without else ""))


def mark_fine(conn: Connection, ids: Iterable[int], interval: timedelta, now: datetime | None = None) -> str:
    """The owner looked and the link is fine: ok until the next regular check, and the page as it is now
    becomes the reference its text is compared with."""
    now = now or utcnow()
    count = conn.execute(update(LINK_CHECKS).where(LINK_CHECKS.c.bookmark_id.in_(list(ids))).values(
        state=LinkState.OK, state_since=now, failures=0, first_failure_at=None, redirect_url=None, fingerprint="",
        etag=None, last_modified=None, next_check_at=now + interval, reason="Marked as fine by the owner")).rowcount
    return f"Marked {count} link{'s' if count != 1 else ''} as checked and fine."


def delete(conn: Connection, ids: Iterable[int], config: Config | None) -> str:
    count = 0
    for bookmark_id in ids:
        try:
            bookmarks.remove(conn, bookmark_id, config=config)
            count += 1
        except bookmarks.NotFound:
            continue
    return f"Deleted {count} bookmark{'s' if count != 1 else ''}."


def apply(conn: Connection, action: str, ids: list[int], config: Config) -> str:
    """One of ``ACTIONS`` on ``ids`` (at most ``MAX_BULK``); NotApplicable for an unknown action or no ids."""
    if action not in ACTIONS:
        raise NotApplicable(f"Unknown action {action!r}.")
    if not ids:
        raise NotApplicable("Tick at least one link first.")
    if len(ids) > MAX_BULK:
        raise NotApplicable(f"At most {MAX_BULK} links at once.")
    if action == "update":
        return use_redirect(conn, ids, config)
    if action in ("copy", "no-copy"):
        return show_copy(conn, ids, action == "copy")
    if action == "fine":
        return mark_fine(conn, ids, timedelta(days=config.get("links", "check_interval_days")))
    return delete(conn, ids, config)


__all__ = ["ACTIONS", "MAX_BULK", "NotApplicable", "apply", "delete", "mark_fine", "show_copy", "use_redirect"]
