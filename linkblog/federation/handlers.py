"""What each received activity does, run by the inbox worker (:mod:`.inbox`) on a verified, stored activity.

A handler gets a :class:`Context` (the activity, its actor, the caller's transaction) and answers
``done`` (it did something) or ``ignored`` (nothing here concerns us). One that needs a document we do
not have (an unknown follower's actor, a boosted post given by id) raises :class:`NeedDocument`: the
worker rolls back, fetches it with no transaction open, and runs the handler again. Handlers are
idempotent: running one again changes nothing more.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from sqlalchemy import Connection, delete, insert, select, update

from .. import settings
from ..config import Config
from ..db import insert_ignoring
from ..models import (BLOCKED_ACTORS, BOOKMARKS, FOLLOWERS, FOLLOWING, INTERACTIONS, REMOTE_ACTORS, REMOTE_POSTS,
                      TITLE_MAX, WEEKNOTES)
from ..states import FollowState, InboxState, InteractionState, Visibility, WeeknoteStatus
from ..urls import is_web
from . import activities, keys
from .delivery import queue
from .objects import Urls, urls as our_urls
from .limits import Limits
from .reading import as_list, audience, first_link, has_type, id_of, is_public, remote_time, single

REPLY_DEPTH = 20
POST_TYPES = frozenset({"Note", "Article", "Page", "Question", "Video", "Audio", "Image", "Event"})


class NeedDocument(Exception):
    """The handler needs a document first: ``kind`` is "actor" (fetched and stored) or "object"."""

    def __init__(self, url: str, kind: str) -> None:
        super().__init__(f"needs {kind} {url}")
        self.url = url
        self.kind = kind


# --- reading activities ------------------------------------------------------------------------------------


def _content(obj: Mapping[str, Any]) -> str:
    content = single(obj.get("content"))
    if not (isinstance(content, str) and content):
        content_map = obj.get("contentMap")
        content = next((v for v in content_map.values() if isinstance(v, str)), "") \
            if isinstance(content_map, Mapping) else ""
    return content


def _sanitised(obj: Mapping[str, Any], limits: Limits) -> str:
    """The content as we store it: cut to the limits before parsing, then sanitised."""
    from ..markup import sanitise_remote

    return sanitise_remote(_content(obj), limits.content_chars, limits.content_tags)


def _link(obj: Any, limits: Limits) -> str | None:
    return first_link(obj, max_chars=limits.content_chars, max_tags=limits.content_tags)


def _url(obj: Mapping[str, Any]) -> str | None:
    for entry in as_list(obj.get("url")):
        href = entry.get("href") if isinstance(entry, Mapping) else entry
        if is_web(href):
            return href
    return None


def _title(obj: Mapping[str, Any]) -> str:
    name = single(obj.get("name"))
    return name.strip()[:TITLE_MAX] if isinstance(name, str) else ""


def _public(*docs: Any) -> bool:
    return any(is_public(a) for doc in docs for a in audience(doc))


def _authors(obj: Mapping[str, Any]) -> set[str]:
    return {i for i in (id_of(a) for a in as_list(obj.get("attributedTo"))) if i}


# --- the handlers' context ---------------------------------------------------------------------------------


@dataclass
class Context:
    conn: Connection
    config: Config
    activity: dict[str, Any]
    actor: str
    now: datetime
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refreshed: set[str] = field(default_factory=set)

    @property
    def urls(self) -> Urls:
        return our_urls(self.config)

    @property
    def limits(self) -> Limits:
        return Limits.of(self.config)

    def time(self, *values: Any) -> datetime:
        """The first believable remote time among ``values`` (``reading.remote_time``), else now."""
        for value in values:
            moment = remote_time(value, self.now)
            if moment is not None:
                return moment
        return self.now

    @property
    def object(self) -> Any:
        return single(self.activity.get("object"))

    def actor_row(self, uri: str | None = None, *, need_inbox: bool = False) -> Any:
        """The stored actor; missing (or without an inbox we must write to) means fetch it first."""
        uri = uri or self.actor
        row = self.conn.execute(select(REMOTE_ACTORS.c.id, REMOTE_ACTORS.c.inbox, REMOTE_ACTORS.c.shared_inbox)
                                .where(REMOTE_ACTORS.c.uri == uri)).first()
        if (row is None or (need_inbox and not row.inbox)) and uri not in self.refreshed:
            raise NeedDocument(uri, "actor")
        if row is None:
            raise ValueError(f"actor {uri} could not be stored")
        return row

    def known_actor_id(self) -> int | None:
        return self.conn.execute(select(REMOTE_ACTORS.c.id).where(REMOTE_ACTORS.c.uri == self.actor)).scalar()

    def document(self, url: str) -> dict[str, Any]:
        if url not in self.documents:
            raise NeedDocument(url, "object")
        return self.documents[url]

    def follows(self, actor_id: int) -> bool:
        return self.conn.execute(select(FOLLOWING.c.id)
                                 .where(FOLLOWING.c.actor_id == actor_id, FOLLOWING.c.state == FollowState.ACCEPTED)
                                 ).first() is not None

    def our_item(self, object_id: Any) -> tuple[str, int] | None:
        """("b", id) or ("w", id) for one of our published, federated items."""
        if not isinstance(object_id, str):
            return None
        base = self.urls.base
        bookmark = object_id.removeprefix(f"{base}/bookmarks/")
        if bookmark != object_id and bookmark.isascii() and bookmark.isdigit() and len(bookmark) < 19:
            found = self.conn.execute(select(BOOKMARKS.c.id)
                                      .where(BOOKMARKS.c.id == int(bookmark),
                                             BOOKMARKS.c.visibility != Visibility.PRIVATE)).scalar()
            return ("b", found) if found is not None else None
        week = object_id.removeprefix(f"{base}/weeknotes/")
        if week != object_id and len(week) <= 8:
            found = self.conn.execute(select(WEEKNOTES.c.id)
                                      .where(WEEKNOTES.c.week == week, WEEKNOTES.c.status == WeeknoteStatus.PUBLISHED,
                                             WEEKNOTES.c.visibility != Visibility.PRIVATE)).scalar()
            return ("w", found) if found is not None else None
        return None


def _send(ctx: Context, activity: dict[str, Any], inbox: str | None) -> None:
    queue(ctx.conn, uri=activity["id"], type_=activity["type"], object_uri=id_of(activity.get("object")) or "",
          payload=json.dumps(activity, separators=(",", ":"), ensure_ascii=False), public=False,
          inboxes=[inbox] if inbox else [])


# --- follows -----------------------------------------------------------------------------------------------


def _follow(ctx: Context) -> InboxState:
    if id_of(ctx.object) != ctx.urls.actor:
        return InboxState.IGNORED
    actor = ctx.actor_row(need_inbox=True)
    follow_uri = ctx.activity["id"]
    existing = ctx.conn.execute(select(FOLLOWERS.c.id, FOLLOWERS.c.follow_uri, FOLLOWERS.c.state)
                                .where(FOLLOWERS.c.actor_id == actor.id)).first()
    if existing is not None:
        if existing.follow_uri == follow_uri:
            return InboxState.DONE
        # A new Follow from a follower: their server lost our Accept, or they re-followed. Answer again.
        ctx.conn.execute(update(FOLLOWERS).where(FOLLOWERS.c.id == existing.id).values(follow_uri=follow_uri))
        if existing.state == FollowState.ACCEPTED:
            _send(ctx, activities.accept(ctx.activity, ctx.config), actor.inbox)
        return InboxState.DONE
    manual = bool(settings.load(ctx.conn, ctx.config).get("federation", "manually_approves_followers"))
    ctx.conn.execute(insert(FOLLOWERS).values(actor_id=actor.id, follow_uri=follow_uri,
                                              state=FollowState.PENDING if manual else FollowState.ACCEPTED,
                                              created_at=ctx.now))
    if not manual:
        _send(ctx, activities.accept(ctx.activity, ctx.config), actor.inbox)
    return InboxState.DONE


def _answer_to_our_follow(ctx: Context) -> Any:
    """The ``following`` row an Accept/Reject answers: by our Follow's id, or (for servers that quote
    the Follow without its id) by a quoted Follow from us to the sender."""
    actor_id = ctx.known_actor_id()
    if actor_id is None:
        return None
    inner = ctx.object
    row = ctx.conn.execute(select(FOLLOWING.c.id, FOLLOWING.c.state)
                           .where(FOLLOWING.c.actor_id == actor_id, FOLLOWING.c.follow_uri == (id_of(inner) or ""))
                           ).first()
    if row is None and isinstance(inner, Mapping) and has_type(inner, "Follow") \
            and id_of(single(inner.get("actor"))) == ctx.urls.actor and id_of(single(inner.get("object"))) == ctx.actor:
        row = ctx.conn.execute(select(FOLLOWING.c.id, FOLLOWING.c.state)
                               .where(FOLLOWING.c.actor_id == actor_id)).first()
    return row


def _accept(ctx: Context) -> InboxState:
    row = _answer_to_our_follow(ctx)
    if row is None:
        return InboxState.IGNORED
    if row.state != FollowState.ACCEPTED:
        ctx.conn.execute(update(FOLLOWING).where(FOLLOWING.c.id == row.id).values(state=FollowState.ACCEPTED))
    return InboxState.DONE


def _reject(ctx: Context) -> InboxState:
    row = _answer_to_our_follow(ctx)
    if row is None:
        return InboxState.IGNORED
    ctx.conn.execute(delete(FOLLOWING).where(FOLLOWING.c.id == row.id))
    return InboxState.DONE


def _block(ctx: Context) -> InboxState:
    actor_id = ctx.known_actor_id()
    if id_of(ctx.object) != ctx.urls.actor or actor_id is None:
        return InboxState.IGNORED
    ctx.conn.execute(delete(FOLLOWERS).where(FOLLOWERS.c.actor_id == actor_id))
    return InboxState.DONE


def _move(ctx: Context) -> InboxState:
    """An account moved (Move{actor: old, object: old, target: new}); honoured only when the new account,
    fetched now, lists the old one in alsoKnownAs. A follower's new account takes its place; an account
    the owner follows is followed at its new address (Follow queued, pending until Accept) and the old
    follow is undone. Both rows are gone after the first run, so the same Move again changes nothing."""
    old, new = id_of(ctx.object), id_of(single(ctx.activity.get("target")))
    actor_id = ctx.known_actor_id()
    if old != ctx.actor or not is_web(new) or new == old or actor_id is None:
        return InboxState.IGNORED
    follower = ctx.conn.execute(select(FOLLOWERS.c.id).where(FOLLOWERS.c.actor_id == actor_id)).first()
    followed = ctx.conn.execute(select(FOLLOWING.c.id, FOLLOWING.c.follow_uri)
                                .where(FOLLOWING.c.actor_id == actor_id)).first()
    if follower is None and followed is None:
        return InboxState.IGNORED
    doc = ctx.document(new)
    if not keys.is_actor(doc) or old not in {id_of(a) for a in as_list(doc.get("alsoKnownAs"))}:
        return InboxState.IGNORED
    fields = keys.actor_fields(doc, now=ctx.now)
    new_id = keys.store_actor(ctx.conn, fields)
    ctx.conn.execute(update(REMOTE_ACTORS).where(REMOTE_ACTORS.c.id == actor_id).values(moved_to=new))
    if follower is not None:
        if ctx.conn.execute(select(FOLLOWERS.c.id).where(FOLLOWERS.c.actor_id == new_id)).first() is None:
            ctx.conn.execute(update(FOLLOWERS).where(FOLLOWERS.c.id == follower.id).values(actor_id=new_id))
        else:
            ctx.conn.execute(delete(FOLLOWERS).where(FOLLOWERS.c.id == follower.id))
    if followed is not None:
        _follow_moved(ctx, followed, old, new_id, fields)
    return InboxState.DONE


def _follow_moved(ctx: Context, followed: Any, old: str, new_id: int, fields: dict[str, Any]) -> None:
    """Follow the new account (unless it is us, blocked, already followed, or has no inbox), then undo
    the follow of the old one, in that order as Mastodon does: the request goes out before the old
    relationship ends."""
    new = fields["uri"]
    blocked = ctx.conn.execute(select(BLOCKED_ACTORS.c.id).where(BLOCKED_ACTORS.c.uri == new)).first() is not None
    already = ctx.conn.execute(select(FOLLOWING.c.id).where(FOLLOWING.c.actor_id == new_id)).first() is not None
    if not fields["inbox"] or blocked:
        return   # nowhere to follow: keep following the old account rather than lose the link
    if new != ctx.urls.actor and not already:
        follow = activities.follow(new, ctx.config)
        ctx.conn.execute(insert(FOLLOWING).values(actor_id=new_id, follow_uri=follow["id"], state=FollowState.PENDING,
                                                  created_at=ctx.now))
        _send(ctx, follow, fields["inbox"])
    old_inbox = ctx.conn.execute(select(REMOTE_ACTORS.c.inbox).where(REMOTE_ACTORS.c.uri == old)).scalar()
    _send(ctx, activities.undo(activities.follow(old, ctx.config, activity_id=followed.follow_uri), ctx.config),
          old_inbox)
    ctx.conn.execute(delete(FOLLOWING).where(FOLLOWING.c.id == followed.id))


# --- likes, boosts, replies --------------------------------------------------------------------------------


def _interaction(ctx: Context, kind: str, target: tuple[str, int], actor_id: int, **extra: Any) -> None:
    published = ctx.time(ctx.activity.get("published"))
    values = {"kind": kind, "uri": ctx.activity["id"], "activity_uri": ctx.activity["id"], "actor_id": actor_id,
              "target_kind": target[0], "target_id": target[1], "in_reply_to": None, "content_html": "",
              "url": None, "state": InteractionState.VISIBLE, "published": published, "updated_at": published}
    values.update(extra)
    # No conflict target: a repeated id (``uri``) and a second like or boost of the same item by the same actor
    # under a new id (``uq_interactions_one_per_actor``) are both no-ops.
    insert_ignoring(ctx.conn, INTERACTIONS, values, None)


def _like(ctx: Context) -> InboxState:
    target = ctx.our_item(id_of(ctx.object))
    if target is None:
        return InboxState.IGNORED
    _interaction(ctx, "like", target, ctx.actor_row().id)
    return InboxState.DONE


def _announce(ctx: Context) -> InboxState:
    object_id = id_of(ctx.object)
    target = ctx.our_item(object_id)
    if target is not None:
        _interaction(ctx, "announce", target, ctx.actor_row().id)
        return InboxState.DONE
    actor_id = ctx.known_actor_id()
    if actor_id is None or not ctx.follows(actor_id) or not is_web(object_id):
        return InboxState.IGNORED
    obj = ctx.object if isinstance(ctx.object, Mapping) else ctx.document(object_id)
    return _remote_post(ctx, obj, actor_id, uri=ctx.activity["id"])


def _remote_post(ctx: Context, obj: Mapping[str, Any], actor_id: int, *, uri: str) -> InboxState:
    """A post with a link, for the network page; only public posts (the page is not an inbox)."""
    link = _link(obj, ctx.limits)
    if not is_web(link) or not _public(ctx.activity, obj):
        return InboxState.IGNORED
    published = ctx.time(obj.get("published"), ctx.activity.get("published"))
    insert_ignoring(ctx.conn, REMOTE_POSTS, {
        "uri": uri, "actor_id": actor_id, "link_url": link, "title": _title(obj),
        "content_html": _sanitised(obj, ctx.limits), "url": _url(obj) or (id_of(obj) if is_web(id_of(obj)) else None),
        "published": published, "created_at": ctx.now}, ["uri"])
    return InboxState.DONE


def _reply_target(ctx: Context, parent: str) -> tuple[str, int] | None:
    """The item a reply is about: ours directly, or the root of a reply we already keep."""
    target = ctx.our_item(parent)
    if target is not None:
        return target
    row = ctx.conn.execute(select(INTERACTIONS.c.target_kind, INTERACTIONS.c.target_id)
                           .where(INTERACTIONS.c.uri == parent, INTERACTIONS.c.kind == "reply")
                           ).first()
    return (row.target_kind, row.target_id) if row is not None else None


def _create(ctx: Context) -> InboxState:
    obj = ctx.object
    actor_id = ctx.known_actor_id()
    if isinstance(obj, str):   # servers embed replies; a bare id is only worth a fetch from someone we follow
        if actor_id is None or not ctx.follows(actor_id) or not is_web(obj):
            return InboxState.IGNORED
        obj = ctx.document(obj)
    if not isinstance(obj, Mapping) or not is_web(id_of(obj)):
        return InboxState.IGNORED
    if _authors(obj) and ctx.actor not in _authors(obj):
        return InboxState.IGNORED
    parent = id_of(single(obj.get("inReplyTo")))
    target = _reply_target(ctx, parent) if parent else None
    if target is not None and set(as_list(obj.get("type"))) & POST_TYPES:
        published = ctx.time(obj.get("published"))
        _interaction(ctx, "reply", target, ctx.actor_row().id, uri=id_of(obj), in_reply_to=parent,
                     content_html=_sanitised(obj, ctx.limits), url=_url(obj),
                     # Replies not addressed to Public are kept but never shown: showing them would leak.
                     state=InteractionState.VISIBLE if _public(ctx.activity, obj) else InteractionState.HIDDEN,
                     published=published, updated_at=remote_time(obj.get("updated"), ctx.now) or published)
        return InboxState.DONE
    if actor_id is not None and ctx.follows(actor_id):
        return _remote_post(ctx, obj, actor_id, uri=id_of(obj))
    return InboxState.IGNORED


def _update(ctx: Context) -> InboxState:
    obj = ctx.object
    if not isinstance(obj, Mapping):
        return InboxState.IGNORED
    if keys.is_actor(obj):
        if id_of(obj) != ctx.actor or ctx.known_actor_id() is None:
            return InboxState.IGNORED
        keys.store_actor(ctx.conn, keys.actor_fields(obj, now=ctx.now))
        return InboxState.DONE
    actor_id = ctx.known_actor_id()
    object_id = id_of(obj)
    if actor_id is None or not object_id:
        return InboxState.IGNORED
    reply = ctx.conn.execute(select(INTERACTIONS.c.id)
                             .where(INTERACTIONS.c.uri == object_id, INTERACTIONS.c.actor_id == actor_id,
                                    INTERACTIONS.c.kind == "reply")).first()
    post = ctx.conn.execute(select(REMOTE_POSTS.c.id)
                            .where(REMOTE_POSTS.c.uri == object_id, REMOTE_POSTS.c.actor_id == actor_id)).first()
    if reply is None and post is None:
        return InboxState.IGNORED
    html = _sanitised(obj, ctx.limits)
    changed = ctx.time(obj.get("updated"), ctx.activity.get("published"))
    if reply is not None:   # only a real change moves updated_at, so a repeated Update changes nothing
        ctx.conn.execute(update(INTERACTIONS).where(INTERACTIONS.c.id == reply.id, INTERACTIONS.c.content_html != html)
                         .values(content_html=html, updated_at=changed))
    link = _link(obj, ctx.limits)
    if post is not None and is_web(link):
        ctx.conn.execute(update(REMOTE_POSTS).where(REMOTE_POSTS.c.id == post.id)
                         .values(content_html=html, link_url=link, title=_title(obj)))
    return InboxState.DONE


def _delete(ctx: Context) -> InboxState:
    target = id_of(ctx.object)
    actor_id = ctx.known_actor_id()
    if not target or actor_id is None:
        return InboxState.IGNORED
    if target == ctx.actor:   # the account is gone: everything it left goes with it
        for table in (INTERACTIONS, REMOTE_POSTS, FOLLOWERS, FOLLOWING):
            ctx.conn.execute(delete(table).where(table.c.actor_id == actor_id))
        ctx.conn.execute(delete(REMOTE_ACTORS).where(REMOTE_ACTORS.c.id == actor_id))
        return InboxState.DONE
    removed = ctx.conn.execute(delete(REMOTE_POSTS)
                               .where(REMOTE_POSTS.c.uri == target, REMOTE_POSTS.c.actor_id == actor_id)).rowcount
    own = ctx.conn.execute(select(INTERACTIONS.c.id)
                           .where(INTERACTIONS.c.uri == target, INTERACTIONS.c.actor_id == actor_id,
                                  INTERACTIONS.c.kind == "reply")
                           ).first()
    if own is None:
        return InboxState.DONE if removed else InboxState.IGNORED
    doomed, frontier = [own.id], [target]
    for _ in range(REPLY_DEPTH):   # replies to the deleted reply lose their context: remove them too
        rows = ctx.conn.execute(select(INTERACTIONS.c.id, INTERACTIONS.c.uri)
                                .where(INTERACTIONS.c.in_reply_to.in_(frontier), INTERACTIONS.c.kind == "reply")
                                ).all()
        rows = [r for r in rows if r.id not in doomed]
        if not rows:
            break
        doomed += [r.id for r in rows]
        frontier = [r.uri for r in rows]
    ctx.conn.execute(delete(INTERACTIONS).where(INTERACTIONS.c.id.in_(doomed)))
    return InboxState.DONE


def _undo(ctx: Context) -> InboxState:
    inner = ctx.object
    inner_id = id_of(inner)
    actor_id = ctx.known_actor_id()
    if not inner_id or actor_id is None:
        return InboxState.IGNORED
    kinds = set(as_list(inner.get("type"))) if isinstance(inner, Mapping) else set()
    removed = 0
    if "Follow" in kinds and id_of(single(inner.get("object"))) == ctx.urls.actor:
        removed += ctx.conn.execute(delete(FOLLOWERS).where(FOLLOWERS.c.actor_id == actor_id)).rowcount
    elif not kinds or "Follow" in kinds:
        removed += ctx.conn.execute(delete(FOLLOWERS)
                                    .where(FOLLOWERS.c.actor_id == actor_id,
                                           FOLLOWERS.c.follow_uri == inner_id)).rowcount
    if not kinds or kinds & {"Like", "Announce"}:
        removed += ctx.conn.execute(delete(INTERACTIONS)
                                    .where(INTERACTIONS.c.uri == inner_id, INTERACTIONS.c.actor_id == actor_id,
                                           INTERACTIONS.c.kind.in_(("like", "announce")))).rowcount
        removed += _undo_by_target(ctx, inner, kinds, actor_id)
        removed += ctx.conn.execute(delete(REMOTE_POSTS)
                                    .where(REMOTE_POSTS.c.uri == inner_id,
                                           REMOTE_POSTS.c.actor_id == actor_id)).rowcount
    return InboxState.DONE if removed else InboxState.IGNORED


def _undo_by_target(ctx: Context, inner: Any, kinds: set[Any], actor_id: int) -> int:
    """An embedded Like/Announce of one of our items undoes the actor's like/boost of it whatever id it was
    stored under (only one is kept per actor and item), as Mastodon does."""
    target = ctx.our_item(id_of(single(inner.get("object")))) if isinstance(inner, Mapping) else None
    if target is None:
        return 0
    wanted = [kind for name, kind in (("Like", "like"), ("Announce", "announce")) if name in kinds]
    return ctx.conn.execute(delete(INTERACTIONS)
                            .where(INTERACTIONS.c.actor_id == actor_id, INTERACTIONS.c.kind.in_(wanted),
                                   INTERACTIONS.c.target_kind == target[0], INTERACTIONS.c.target_id == target[1])
                            ).rowcount


HANDLERS: dict[str, Callable[[Context], InboxState]] = {
    "Follow": _follow, "Undo": _undo, "Like": _like, "Announce": _announce, "Create": _create,
    "Update": _update, "Delete": _delete, "Block": _block, "Move": _move, "Accept": _accept, "Reject": _reject,
}


def handle(ctx: Context) -> InboxState:
    if ctx.conn.execute(select(BLOCKED_ACTORS.c.id).where(BLOCKED_ACTORS.c.uri == ctx.actor)).first() is not None:
        return InboxState.IGNORED   # blocked after it arrived
    for kind in as_list(ctx.activity.get("type")):
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            return handler(ctx)
    return InboxState.IGNORED


__all__ = ["HANDLERS", "Context", "NeedDocument", "handle"]
