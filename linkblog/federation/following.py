"""The owner's relationships: following accounts, answering follow requests, and removing or blocking
followers.

Network first, then one short transaction: a WebFinger lookup and an actor fetch can take seconds,
and no transaction should wait on another server. Every message meant for the other side (Follow,
Accept, Reject, Undo, Block) is queued with ``delivery.queue`` in the same transaction as the row change, so
the two can never disagree after a crash.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from ..config import Config
from ..db import Bind, reading, utcnow, writing
from ..models import BLOCKED_ACTORS, FOLLOWERS, FOLLOWING, INTERACTIONS, OUTBOX_ACTIVITIES, OWNER_TABLE, REMOTE_ACTORS
from ..queries.owner import is_the_owner
from ..states import FollowState, InteractionState
from ..urls import is_web
from . import activities, keys, objects
from .delivery import queue
from .net import (
    AP_ACCEPT, AP_CONTENT_TYPES, JRD_ACCEPT, JRD_CONTENT_TYPES, BadContentType, BadDocument, BadURL, BlockedAddress,
    ConnectionFailed, FetchClient, FetchError, FetchTimeout, HTTPStatusError, IdMismatch, TooLarge, actor_from_jrd,
    checked_document, moving_on_from_failure, parse_handle, parse_json_object, subject_of, webfinger_attempts,
)
from .reading import as_list, id_of
from .signatures import SignatureAuth


class FollowError(Exception):
    """Something the owner can act on: a mistyped handle, an unreachable server, not an account."""


@dataclass(frozen=True)
class Result:
    """What happened, in words for the owner (``changed`` is False for "already following")."""

    actor_id: int
    actor_uri: str
    handle: str
    changed: bool
    message: str


def _send(conn: Connection, activity: Mapping[str, Any], inbox: str | None) -> None:
    queue(conn, uri=activity["id"], type_=activity["type"], object_uri=id_of(activity.get("object")) or "",
          payload=json.dumps(activity, separators=(",", ":"), ensure_ascii=False), public=False,
          inboxes=[inbox] if inbox else [])


# --- reading a target ----------------------------------------------------------------------------------


def parse_target(target: str) -> tuple[str, str]:
    """("handle", "user@host") or ("url", actor URL); anything else is a FollowError."""
    text = (target or "").strip()
    if text.startswith(("http://", "https://")):
        if not is_web(text):
            raise FollowError(f"{text!r} is not a usable address; paste the account's page address or its handle.")
        return "url", text.split("#", 1)[0]
    if "@" in text:
        try:
            user, host = parse_handle(text)
        except BadURL:
            raise FollowError(f"{text!r} is not a handle; write it like @someone@example.social.") from None
        return "handle", f"{user}@{host}"
    raise FollowError("Enter an account as @user@host (like @someone@example.social) or as its address "
                      "(https://…).")


def _stored(conn: Connection, kind: str, value: str) -> Any:
    """The stored actor (and whether we follow it) a target names, without any network."""
    where = (func.lower(REMOTE_ACTORS.c.handle) == value.lower() if kind == "handle"
             else or_(REMOTE_ACTORS.c.uri == value, REMOTE_ACTORS.c.url == value))
    return conn.execute(select(REMOTE_ACTORS.c.id, REMOTE_ACTORS.c.uri, REMOTE_ACTORS.c.handle, REMOTE_ACTORS.c.inbox,
                               FOLLOWING.c.id.label("following_id"), FOLLOWING.c.state, FOLLOWING.c.follow_uri)
                        .outerjoin(FOLLOWING, FOLLOWING.c.actor_id == REMOTE_ACTORS.c.id).where(where)
                        .order_by(FOLLOWING.c.id.is_(None), REMOTE_ACTORS.c.id).limit(1)).first()


# What the socket layer says (``[Errno -2] Name or service not known``), in words the owner can act on.
_NETWORK_WORDS = (
    (("resolve", "name or service", "errno -2", "errno -3", "errno -5", "nodename", "no address associated"),
     "that server could not be found (its name does not lead to any address)"),
    (("refused", "errno 111"), "that server could not be reached (it refused the connection; it may be down)"),
    (("ssl", "tls", "certificate"), "that server could not be reached securely (its TLS certificate or handshake failed)"),
    (("reset", "closed", "disconnected", "broken pipe", "eof"),
     "that server closed the connection without answering"),
    (("unreachable", "no route"), "that server could not be reached (no network route to it)"),
)


def network_words(exc: FetchError) -> str:
    """A connection failure or timeout as a phrase, never the raw ``[Errno …]`` text."""
    if isinstance(exc, FetchTimeout):
        return "that server did not answer in time"
    reason = exc.reason.lower()
    for needles, words in _NETWORK_WORDS:
        if any(needle in reason for needle in needles):
            return words
    return "that server could not be reached"


def _explain(exc: FetchError, target: str) -> str:
    """A FetchError in words that say what to do next."""
    if isinstance(exc, HTTPStatusError):
        if exc.status in (404, 410):
            return f"There is no account {target} (its server answered {exc.status}). Check the spelling."
        if exc.status in (401, 403):
            return f"The server of {target} refused to show the account (HTTP {exc.status})."
        return f"The server of {target} answered HTTP {exc.status}; try again later."
    if isinstance(exc, BlockedAddress):
        return f"{target} points to an address this site never contacts (a private or local network)."
    if isinstance(exc, BadURL):
        return f"{target} cannot be looked up: {exc.reason}."
    if isinstance(exc, (ConnectionFailed, FetchTimeout)):
        return f"Could not reach the server of {target}: {network_words(exc)}. Check the spelling or try again later."
    if isinstance(exc, (BadDocument, IdMismatch, BadContentType, TooLarge)):
        return f"{target} is not a fediverse account this site can follow ({exc.reason})."
    return f"Could not look up {target}: {exc.reason}."


def _fetch_actor(fetcher: FetchClient, url: str, auth: SignatureAuth) -> dict[str, Any]:
    """The actor document at ``url``; a profile page (https://host/@user) that answers with the actor
    under its canonical id is followed once to that id, which must then match exactly."""
    fetched = fetcher.get(url, accept=AP_ACCEPT, content_types=AP_CONTENT_TYPES, auth=auth)
    try:
        return checked_document(fetched)
    except IdMismatch:
        real = parse_json_object(fetched).get("id")
        if not is_web(real) or "#" in real or real == url:
            raise
        return fetcher.fetch_json(real, auth=auth)


def actor_fields(doc: Mapping[str, Any], handle: str | None, target: str) -> dict[str, Any]:
    """The remote_actors columns for a fetched actor (parsed by ``keys.actor_fields``, as the inbox does);
    anything that is not an account with an inbox is refused here."""
    kinds = set(as_list(doc.get("type")))
    if not kinds & keys.ACTOR_TYPES:
        shown = ", ".join(sorted(str(k) for k in kinds)) or "untyped"
        raise FollowError(f"{target} is not an account but a {shown} document; follow its author instead.")
    try:
        fields = keys.actor_fields(doc)
    except ValueError:
        fields = {}
    if not fields or not fields["inbox"]:
        raise FollowError(f"{target} is an account without a usable inbox, so it cannot be followed.")
    found = fields["handle"]  # preferredUsername@actor-host
    if handle:  # the WebFinger domain may differ from the actor's host: keep the handle that was looked up
        same_user = found and handle.split("@", 1)[0].lower() == found.split("@", 1)[0].lower()
        fields["handle"] = (f"{found.split('@', 1)[0]}@{handle.split('@', 1)[1]}" if same_user else handle)[:300]
    return fields


def _ask_webfinger(fetcher: FetchClient, handle: str, host: str, auth: SignatureAuth) -> tuple[str, str | None] | None:
    """What ``host``'s WebFinger says ``acct:handle`` is: (actor id, subject), or None when it names none."""
    try:
        for url, last in webfinger_attempts(handle, fetcher.policy, ask=host):
            with moving_on_from_failure(last):
                fetched = fetcher.get(url, accept=JRD_ACCEPT, content_types=JRD_CONTENT_TYPES, auth=auth)
                return actor_from_jrd(fetched), subject_of(fetched)
    except FetchError:
        pass
    return None


def confirmed_handle(fetcher: FetchClient, handle: str, actor: str, own: str, auth: SignatureAuth) -> str:
    """The handle to keep for ``actor``, which the WebFinger of ``handle`` (user@domain) pointed to; ``own`` is
    the actor's own handle (preferredUsername@actor-host, "" without a preferredUsername).

    Any server can answer WebFinger for its own domain with someone else's actor: ``@alice@evil.example``
    pointing at ``https://real.example/users/alice`` proves nothing. As Mastodon does, the actor's own host
    is asked: its WebFinger for the actor's own handle (preferredUsername@actor-host) must name the actor, and
    its ``subject`` (the canonical handle, which may be on another domain when the server uses split
    domains) must be ``handle``; or its WebFinger for ``acct:handle`` must name the actor. Otherwise the
    actor's own confirmed handle is kept; with none confirmed the lookup is refused."""
    host = urlsplit(actor).netloc.lower()
    if handle.split("@", 1)[1] == host:
        return own if own and own.lower() == handle.lower() else handle
    canonical = _ask_webfinger(fetcher, own, host, auth) if own else None
    confirmed = canonical is not None and canonical[0] == actor
    if confirmed and canonical[1] is not None and canonical[1].lower() == handle.lower():
        return canonical[1]
    answer = _ask_webfinger(fetcher, handle, host, auth)
    if answer is not None and answer[0] == actor:
        return handle
    if confirmed:
        return own
    raise FollowError(f"@{handle} points to {actor}, but {host} does not confirm that handle or any other for "
                      f"it (its WebFinger does not name that account). Check the handle; if you trust the "
                      f"address, follow {actor} itself.")


def _owner_key(conn: Connection) -> str:
    pem = conn.execute(select(OWNER_TABLE.c.private_key_pem).where(is_the_owner())).scalar()
    if not pem:
        raise FollowError("This site has no owner yet: run `linkblog init` first.")
    return pem


def _own_handle(conn: Connection, config: Config) -> str:
    username = conn.execute(select(OWNER_TABLE.c.username).where(is_the_owner())).scalar() or ""
    return f"{username}@{urlsplit(config.base_url).netloc}".lower()


def _already(row: Any) -> Result:
    handle = row.handle or row.uri
    waiting = " (still waiting for them to accept)" if row.state == FollowState.PENDING else ""
    return Result(row.id, row.uri, row.handle, False, f"You already follow {_at(handle)}{waiting}.")


def _at(handle: str) -> str:
    return "@" + handle if handle and "://" not in handle else handle


# --- following -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """An account looked up on its server: its actor document, its ``remote_actors`` columns, and how
    the owner wrote it (for messages)."""

    doc: dict[str, Any]
    fields: dict[str, Any]
    shown: str


def _refuse_own(conn: Connection, config: Config, kind: str, value: str) -> None:
    if value == objects.urls(config).actor or (kind == "handle" and value.lower() == _own_handle(conn, config)):
        raise FollowError("That is this site's own account.")


def lookup(bind: Bind, config: Config, target: str, fetcher: FetchClient) -> Found:
    """A handle (signed WebFinger, then a signed actor fetch) or an actor URL (signed fetch), checked to
    be an account with an inbox that is not this site's own. No transaction is open during the network."""
    kind, value = parse_target(target)
    shown = _at(value) if kind == "handle" else value
    u = objects.urls(config)
    with reading(bind) as conn:
        _refuse_own(conn, config, kind, value)
        auth = SignatureAuth(u.key_id, _owner_key(conn))
    try:
        actor_uri = fetcher.webfinger(value, auth=auth) if kind == "handle" else value  # signed too
        doc = _fetch_actor(fetcher, actor_uri, auth)
    except FetchError as exc:
        raise FollowError(_explain(exc, shown)) from None
    fields = actor_fields(doc, value if kind == "handle" else None, shown)
    if fields["uri"] == u.actor:
        raise FollowError("That is this site's own account.")
    if kind == "handle":
        own = keys.actor_fields(doc)["handle"]   # preferredUsername@actor-host (fields has the looked-up one)
        fields["handle"] = confirmed_handle(fetcher, value, fields["uri"], own, auth)[:300]
    return Found(doc, fields, shown)


def follow(bind: Bind, config: Config, target: str, fetcher: FetchClient) -> Result:
    """Look the account up (WebFinger, then a signed actor fetch), then in one transaction store it,
    add a pending ``following`` row and queue the Follow to its inbox."""
    kind, value = parse_target(target)
    with reading(bind) as conn:
        _refuse_own(conn, config, kind, value)
        row = _stored(conn, kind, value)
        if row is not None and row.following_id is not None:
            return _already(row)
    found = lookup(bind, config, target, fetcher)
    fields, shown = found.fields, found.shown
    with writing(bind) as conn:
        if conn.execute(select(BLOCKED_ACTORS.c.id).where(BLOCKED_ACTORS.c.uri == fields["uri"])).first() is not None:
            raise FollowError(f"You blocked {shown}; unblock them on the followers page before following.")
        actor_id = keys.store_actor(conn, fields)
        existing = conn.execute(select(FOLLOWING.c.state).where(FOLLOWING.c.actor_id == actor_id)).first()
        if existing is not None:
            row = _stored(conn, "url", fields["uri"])
            return _already(row)
        activity = activities.follow(fields["uri"], config)
        conn.execute(insert(FOLLOWING).values(actor_id=actor_id, follow_uri=activity["id"], state=FollowState.PENDING,
                                              created_at=utcnow()))
        _send(conn, activity, fields["inbox"])
    name = _at(fields["handle"] or fields["uri"])
    unconfirmed = (f" Its server does not confirm {shown} as its handle, so it is shown as {name}."
                   if kind == "handle" and fields["handle"].lower() != value.lower() else "")
    return Result(actor_id, fields["uri"], fields["handle"], True,
                  f"Asked to follow {name}; it shows as following once their server accepts.{unconfirmed}")


def unfollow(bind: Bind, config: Config, target: str | int) -> Result:
    """Queue an Undo of the stored Follow (rebuilt from its id) and forget the row; no network.
    ``target`` is a handle, an actor URL, or a remote_actors id (the web form's button)."""
    with writing(bind) as conn:
        if isinstance(target, int):
            row = conn.execute(select(REMOTE_ACTORS.c.id, REMOTE_ACTORS.c.uri, REMOTE_ACTORS.c.handle,
                                      REMOTE_ACTORS.c.inbox, FOLLOWING.c.id.label("following_id"), FOLLOWING.c.state,
                                      FOLLOWING.c.follow_uri)
                               .join(FOLLOWING, FOLLOWING.c.actor_id == REMOTE_ACTORS.c.id)
                               .where(REMOTE_ACTORS.c.id == target)).first()
            shown = f"account {target}"
        else:
            kind, value = parse_target(target)
            row = _stored(conn, kind, value)
            shown = _at(value) if kind == "handle" else value
        if row is None or row.following_id is None:
            raise FollowError(f"You do not follow {shown}.")
        original = activities.follow(row.uri, config, activity_id=row.follow_uri)
        _send(conn, activities.undo(original, config), row.inbox)
        conn.execute(delete(FOLLOWING).where(FOLLOWING.c.id == row.following_id))
    return Result(row.id, row.uri, row.handle, True, f"Unfollowed {_at(row.handle or row.uri)}.")


# --- followers -----------------------------------------------------------------------------------------


def _follower(conn: Connection, follower_id: int) -> Any:
    row = conn.execute(select(FOLLOWERS.c.id, FOLLOWERS.c.actor_id, FOLLOWERS.c.follow_uri, FOLLOWERS.c.state,
                              REMOTE_ACTORS.c.uri, REMOTE_ACTORS.c.handle, REMOTE_ACTORS.c.inbox)
                       .join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == FOLLOWERS.c.actor_id)
                       .where(FOLLOWERS.c.id == follower_id)).first()
    if row is None:
        raise FollowError("That follower is gone already (removed, or they unfollowed).")
    return row


def _their_follow(row: Any, config: Config) -> dict[str, Any]:
    return {"id": row.follow_uri, "type": "Follow", "actor": row.uri, "object": objects.urls(config).actor}


def _pending_follower(conn: Connection, follower_id: int) -> Any:
    return conn.execute(select(FOLLOWERS.c.id, FOLLOWERS.c.follow_uri, FOLLOWERS.c.state, REMOTE_ACTORS.c.uri,
                               REMOTE_ACTORS.c.inbox)
                        .join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == FOLLOWERS.c.actor_id)
                        .where(FOLLOWERS.c.id == follower_id)).first()


def approve_follow(conn: Connection, config: Config, follower_id: int) -> bool:
    """Accept a pending follow request (queues the Accept); False if there is no pending request."""
    row = _pending_follower(conn, follower_id)
    if row is None or row.state != FollowState.PENDING:
        return False
    conn.execute(update(FOLLOWERS).where(FOLLOWERS.c.id == follower_id).values(state=FollowState.ACCEPTED))
    _send(conn, activities.accept(_their_follow(row, config), config), row.inbox)
    return True


def reject_follow(conn: Connection, config: Config, follower_id: int) -> bool:
    """Refuse a follow request, or end an accepted follow: queue a Reject and drop the row."""
    row = _pending_follower(conn, follower_id)
    if row is None:
        return False
    conn.execute(delete(FOLLOWERS).where(FOLLOWERS.c.id == follower_id))
    _send(conn, activities.reject(_their_follow(row, config), config), row.inbox)
    return True


def remove_follower(conn: Connection, config: Config, follower_id: int) -> Result:
    """Drop a follower and queue a Reject of their Follow, so their server drops it too."""
    row = _follower(conn, follower_id)
    _send(conn, activities.reject(_their_follow(row, config), config), row.inbox)
    conn.execute(delete(FOLLOWERS).where(FOLLOWERS.c.id == row.id))
    return Result(row.actor_id, row.uri, row.handle, True,
                  f"Removed {_at(row.handle or row.uri)} from your followers.")


def block(conn: Connection, config: Config, actor_id: int) -> Result:
    """Block an account: remember it, queue a Block, end both follow relationships and take their
    likes, boosts and replies off the pages (replies are hidden, so unblocking can show them again)."""
    row = conn.execute(select(REMOTE_ACTORS.c.id, REMOTE_ACTORS.c.uri, REMOTE_ACTORS.c.handle, REMOTE_ACTORS.c.inbox)
                       .where(REMOTE_ACTORS.c.id == actor_id)).first()
    if row is None:
        raise FollowError("That account is not known here.")
    if conn.execute(select(BLOCKED_ACTORS.c.id).where(BLOCKED_ACTORS.c.uri == row.uri)).first() is None:
        conn.execute(insert(BLOCKED_ACTORS).values(uri=row.uri, created_at=utcnow()))
    _send(conn, activities.block(row.uri, config), row.inbox)
    conn.execute(delete(FOLLOWERS).where(FOLLOWERS.c.actor_id == actor_id))
    followed = conn.execute(select(FOLLOWING.c.id, FOLLOWING.c.follow_uri)
                            .where(FOLLOWING.c.actor_id == actor_id)).first()
    if followed is not None:
        _send(conn, activities.undo(activities.follow(row.uri, config, activity_id=followed.follow_uri), config),
              row.inbox)
        conn.execute(delete(FOLLOWING).where(FOLLOWING.c.id == followed.id))
    conn.execute(delete(INTERACTIONS).where(INTERACTIONS.c.actor_id == actor_id, INTERACTIONS.c.kind != "reply"))
    conn.execute(update(INTERACTIONS).where(INTERACTIONS.c.actor_id == actor_id, INTERACTIONS.c.kind == "reply")
                 .values(state=InteractionState.HIDDEN, updated_at=utcnow()))
    return Result(row.id, row.uri, row.handle, True, f"Blocked {_at(row.handle or row.uri)}.")


def unblock(conn: Connection, config: Config, blocked_id: int) -> str:
    """Forget a block and queue an Undo of the Block we sent (when it is still on record)."""
    uri = conn.execute(select(BLOCKED_ACTORS.c.uri).where(BLOCKED_ACTORS.c.id == blocked_id)).scalar()
    if uri is None:
        raise FollowError("That account is not blocked.")
    conn.execute(delete(BLOCKED_ACTORS).where(BLOCKED_ACTORS.c.id == blocked_id))
    actor = conn.execute(select(REMOTE_ACTORS.c.handle, REMOTE_ACTORS.c.inbox)
                         .where(REMOTE_ACTORS.c.uri == uri)).first()
    sent = conn.execute(select(OUTBOX_ACTIVITIES.c.payload)
                        .where(OUTBOX_ACTIVITIES.c.type == "Block", OUTBOX_ACTIVITIES.c.object_uri == uri)
                        .order_by(OUTBOX_ACTIVITIES.c.id.desc()).limit(1)).scalar()
    if sent is not None and actor is not None:
        _send(conn, activities.undo(json.loads(sent), config), actor.inbox)
    return f"Unblocked {_at(actor.handle if actor is not None and actor.handle else uri)}."


__all__ = ["FollowError", "Found", "Result", "actor_fields", "approve_follow", "block", "confirmed_handle", "follow",
           "lookup", "network_words", "parse_target", "reject_follow", "remove_follower", "unblock", "unfollow"]
