"""Everything an inbound POST must pass before it is stored: one function, one verdict.

Order matters for cost and for what an attacker can make us do: the cheap checks that need nothing
(size, JSON shape, signature syntax, digest, our host) come first; blocked senders and deletes of
actors we never knew are answered 202 before any key is fetched; only then is the key looked up
(cache, else a signed and SSRF-guarded fetch), refetched once if it no longer verifies (rotation), and
the activity checked against the key's owner. Statuses: 413 too big, 400 unreadable, 401 unsigned,
forged or untrusted, 503 when every key-fetch slot of the process is busy (the sender retries later),
202 accepted (stored) or ignored (blocked; delete of an unknown actor, as Mastodon does).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import urlsplit

from sqlalchemy import Engine, bindparam, exists, or_, select

from ..config import Config
from ..models import BLOCKED_ACTORS, REMOTE_ACTORS, REMOTE_HOSTS, URL_MAX
from ..urls import host_of, is_web
from . import keys
from .limits import Limits, too_many_containers
from .reading import as_list, id_of, single
from .fetcher import Fetch, FetchesBusy
from .signatures import (IncomingRequest, ParsedSignature, Rejected, parse_signature, verify_parsed,
                         verify_with_lookup)

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(frozen=True)
class Verdict:
    """The answer to give (``status``, ``reason``) and, when it is to be stored, the activity (with
    embedded objects we must not trust reduced to their ids) and its verified actor."""

    status: int
    reason: str
    activity: dict[str, Any] | None = None
    actor: str | None = None
    host_failing: bool = False   # deliveries to the actor's host were failing: it answers again (delivery.host_is_back)

    @property
    def store(self) -> bool:
        return self.activity is not None


def _no(status: int, reason: str) -> Verdict:
    return Verdict(status, reason)


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.verdict = Verdict(status, reason)


# --- the activity itself ------------------------------------------------------------------------------------


def read_activity(body: bytes, limits: Limits | None = None) -> dict[str, Any]:
    """The JSON object with a usable id, type and actor, or ``_Refused`` (400)."""
    if too_many_containers(body, limits or Limits()):
        raise _Refused(400, "body holds too many JSON objects and lists ([federation] max_json_values)")
    try:
        activity = json.loads(body)
    except (ValueError, RecursionError):
        raise _Refused(400, "body is not JSON") from None
    if not isinstance(activity, dict):
        raise _Refused(400, "body is not a JSON object")
    if not is_web(activity.get("id")):
        raise _Refused(400, "activity has no usable id")
    kinds = as_list(activity.get("type"))
    if not kinds or not all(isinstance(k, str) and k for k in kinds):
        raise _Refused(400, "activity has no type")
    actor = id_of(single(activity.get("actor")))
    if not is_web(actor):
        raise _Refused(400, "activity has no single actor")
    return activity


def actor_of(activity: Mapping[str, Any]) -> str:
    return id_of(single(activity.get("actor"))) or ""


def _authority(value: str, scheme: str) -> str:
    host = value.strip().lower()
    port = _DEFAULT_PORTS.get(scheme)
    return host[: -len(port) - 1] if port and host.endswith(":" + port) else host


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def signed_for_another_host(request: IncomingRequest, base_url: str) -> str | None:
    """The request's ``Host`` when it is not our own (the one in ``base_url``), else None. Every
    signature we accept covers the host (cavage ``host``, RFC 9421 ``@authority`` or ``@target-uri``)
    and the request target, both taken from the request itself: checking the host against ours is
    what binds a signature to this site, so one captured on another server cannot be replayed here."""
    base = urlsplit(base_url)
    host = _header(request.headers, "host") or ""
    if _authority(host, base.scheme) != _authority(base.netloc, base.scheme):
        return host
    return None


def _checked_objects(value: Any, actor_host: str, our_host: str, *, announce: bool, depth: int = 0) -> Any:
    """Embedded objects must come from the actor's host (a server vouches only for its own objects);
    ours may be embedded too (an Accept quotes our Follow) since only their ids are ever used. An
    Announce may carry someone else's post: that copy is dropped and only its id is kept."""
    value = single(value)
    if not isinstance(value, dict) or depth > 4:
        return value
    ident = id_of(value)
    if ident is not None:
        if not is_web(ident):
            raise _Refused(400, "an embedded object has an unusable id")
        if host_of(ident) not in (actor_host, our_host):
            if announce and depth == 0:
                return ident
            raise _Refused(401, f"embedded object {ident} is not on the actor's host")
    inner = value.get("object")
    if inner is not None:
        value = {**value, "object": _checked_objects(inner, actor_host, our_host, announce=False, depth=depth + 1)}
    return value


def _object_rules(activity: dict[str, Any], actor: str, engine: Engine, our_host: str) -> dict[str, Any]:
    """Same-host rules, and: an actor may only Update or Delete itself among actors."""
    actor_host = host_of(actor)
    if host_of(activity["id"]) != actor_host:
        raise _Refused(401, "activity id is not on the actor's host")
    kinds = set(as_list(activity.get("type")))
    obj = single(activity.get("object"))
    target = id_of(obj)
    if "Update" in kinds and keys.is_actor(obj) and target != actor:
        raise _Refused(401, "an actor may only update itself")
    if "Delete" in kinds and target and target != actor:
        if keys.is_actor(obj):
            raise _Refused(401, "an actor may only delete itself")
        with engine.connect() as conn:
            if conn.execute(select(REMOTE_ACTORS.c.id).where(REMOTE_ACTORS.c.uri == target)).first() is not None:
                raise _Refused(401, "an actor may only delete itself")
    if obj is not None:
        # Our own objects may be quoted (an Accept of our Follow), never created, edited or deleted by others.
        ours = "" if kinds & {"Create", "Update", "Delete"} else our_host
        checked = _checked_objects(obj, actor_host, ours, announce="Announce" in kinds)
        activity = {**activity, "object": checked}
    return activity


# --- who is sending -----------------------------------------------------------------------------------------


def _blocked_names(*uris: str) -> list[str]:
    """What a BlockedActor row may name to block these actors or keys: each uri, its host bare and as an origin."""
    names: set[str] = set()
    for uri in uris:
        if not uri:
            continue
        parts = urlsplit(uri)
        host = parts.netloc.lower()
        names.update({uri, host, f"{parts.scheme}://{host}", f"{parts.scheme}://{host}/"})
    return sorted(names)


def _padded(names: list[str]) -> dict[str, str]:
    """``names`` (at most ``_BLOCKED_NAMES``) as the fixed parameters n0..n7; repeats change nothing in an IN list."""
    return {f"n{i}": name for i, name in enumerate(names + [names[-1]] * (_BLOCKED_NAMES - len(names)))}


def blocked(engine: Engine, *uris: str) -> bool:
    """A BlockedActor row naming the actor, or its host (bare, or as an origin)."""
    ordered = _blocked_names(*uris)
    if not ordered:
        return False
    with engine.connect() as conn:
        for start in range(0, len(ordered), _BLOCKED_NAMES):
            if conn.execute(_BLOCKED, _padded(ordered[start:start + _BLOCKED_NAMES])).first() is not None:
                return True
    return False


# Built once, with a fixed number of parameters (an actor and its key id make at most 8 names): a fresh or_()
# per request cost more than the query itself, and an expanding IN is rewritten on every execution.
_BLOCKED_NAMES = 8
_BLOCKED_IN = BLOCKED_ACTORS.c.uri.in_([bindparam(f"n{i}") for i in range(_BLOCKED_NAMES)])
_BLOCKED = select(BLOCKED_ACTORS.c.id).where(_BLOCKED_IN).limit(1)


@dataclass(frozen=True)
class Sender:
    """What the database knows about the sender of a POST, read in one statement: whether it is blocked,
    the key its keyId names (None when not stored; never fetched here), and whether deliveries to its
    host were failing. Each used to be a round trip of its own, on every inbox POST."""

    blocked: bool
    key: keys.RemoteKey | None
    host_failing: bool


def _key_column(column: Any) -> Any:
    return select(column).where(REMOTE_ACTORS.c.key_id == bindparam("key_id")).scalar_subquery()


# The same rules as ``blocked``, ``keys.cached_key`` and ``delivery.host_is_back`` (which still clears the host).
_SENDER = select(
    exists().where(_BLOCKED_IN).label("blocked"),
    _key_column(REMOTE_ACTORS.c.uri).label("owner"),
    _key_column(REMOTE_ACTORS.c.public_key_pem).label("public_key_pem"),
    exists().where(REMOTE_HOSTS.c.host == bindparam("host"),
                   or_(REMOTE_HOSTS.c.unavailable.is_(True), REMOTE_HOSTS.c.failing_since.is_not(None)))
    .label("host_failing"))


def sender(engine: Engine, actor: str, key_id: str) -> Sender:
    """One statement for everything ``verify_inbox`` reads about an actor and its keyId before verifying."""
    names = _blocked_names(actor, key_id)   # two uris: at most 8 names, one statement
    if len(names) > _BLOCKED_NAMES:
        raise ValueError(f"{len(names)} names to check against blocked_actors")
    with engine.connect() as conn:
        row = conn.execute(_SENDER, {**_padded(names), "key_id": key_id, "host": host_of(actor)}).one()
    key = keys.RemoteKey(key_id, row.public_key_pem, row.owner) if row.public_key_pem and row.owner else None
    return Sender(bool(row.blocked), key, bool(row.host_failing))


def _deletes_itself(activity: Mapping[str, Any], actor: str) -> bool:
    return "Delete" in as_list(activity.get("type")) and id_of(single(activity.get("object"))) == actor


def _signature(engine: Engine, request: IncomingRequest, parsed: ParsedSignature, fetch: Fetch,
               now: datetime, cached: keys.RemoteKey | None) -> keys.RemoteKey:
    """Verify against the cached (already read) or fetched key; a cached key that fails is refetched once."""
    used: list[keys.RemoteKey] = []

    def lookup(key_id: str) -> str:
        found = cached if cached is not None else keys.lookup_key(engine, key_id, fetch, now=now)
        used.append(found)
        return found.public_key_pem

    try:
        result = verify_with_lookup(parsed, now, lookup)   # the time window is checked before any fetch
        if isinstance(result, Rejected) and used and not used[0].fetched:
            fresh = keys.lookup_key(engine, parsed.key_id, fetch, refresh=True, now=now)
            if fresh.public_key_pem != used[0].public_key_pem:
                used[0] = fresh
                result = verify_parsed(parsed, fresh.public_key_pem, now)
    except keys.KeyUnavailable as exc:
        raise _Refused(401, f"cannot verify the signature: {exc.reason}") from None
    except FetchesBusy as exc:
        raise _Refused(503, str(exc)) from None
    if isinstance(result, Rejected):
        raise _Refused(result.status, result.reason)
    return used[0]


def _owner_again(engine: Engine, parsed: ParsedSignature, key: keys.RemoteKey, actor: str, fetch: Fetch,
                 now: datetime) -> keys.RemoteKey:
    """A cached key id stored for another actor than the one signing: another actor's document may have
    listed it before its real owner was known to us. Resolve the owner from the key id itself (once per
    ``keys.REFRESH_AFTER``); that moves the key id to its real owner, and the signature must verify again."""
    try:
        fresh = keys.lookup_key(engine, parsed.key_id, fetch, refresh=True, now=now)
    except keys.KeyUnavailable:
        return key
    if fresh.owner != actor or isinstance(verify_parsed(parsed, fresh.public_key_pem, now), Rejected):
        return key
    return fresh


# --- the pipeline -------------------------------------------------------------------------------------------


def verify_inbox(engine: Engine, config: Config, request: IncomingRequest, fetch: Fetch, *,
                 now: datetime) -> Verdict:
    """Check one inbound POST; never raises for anything the sender controls."""
    base = urlsplit(config.base_url)
    try:
        if len(request.body) > MAX_BODY:
            return _no(413, f"body is larger than {MAX_BODY} bytes")
        activity = read_activity(request.body, Limits.of(config))
        actor = actor_of(activity)
        parsed = parse_signature(request)
        if isinstance(parsed, Rejected):
            return _no(parsed.status, parsed.reason)
        other_host = signed_for_another_host(request, config.base_url)
        if other_host is not None:
            return _no(401, f"signed for another host ({other_host})")
        if len(parsed.key_id) > URL_MAX:
            return _no(401, "keyId is too long")
        known = sender(engine, actor, parsed.key_id)
        if known.blocked:
            return _no(202, "ignored: the sender is blocked")
        if _deletes_itself(activity, actor) and known.key is None:
            return _no(202, "ignored: delete of an actor we never knew")
        key = _signature(engine, request, parsed, fetch, now, known.key)
        if key.owner != actor and not key.fetched:
            key = _owner_again(engine, parsed, key, actor, fetch, now)
        if key.owner != actor:
            return _no(401, f"signed by {key.owner}, not by the activity's actor {actor}")
        activity = _object_rules(activity, actor, engine, base.netloc.lower())
    except _Refused as refused:
        return refused.verdict
    return Verdict(202, "accepted", activity, actor, host_failing=known.host_failing)


__all__ = ["MAX_BODY", "Sender", "Verdict", "actor_of", "blocked", "read_activity", "sender", "signed_for_another_host",
           "verify_inbox"]
