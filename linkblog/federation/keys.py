"""The actor's own RSA key pair, and the cache of remote actors' public keys.

A remote key lives in ``remote_actors`` (``key_id``, ``public_key_pem``) beside the rest of its actor,
because verifying a key means fetching its owner anyway: a key is only trusted when the actor document
served at the owner's own id lists it (``publicKey.id`` = the keyId, ``publicKey.owner`` = the actor,
both on the keyId's host). Failed lookups are remembered for a short while in this process, so a
burst of deliveries from a dead or broken server costs one fetch, not one per request.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Connection, bindparam, select, update

from ..db import Bind, dialect_insert, reading, utcnow, writing
from ..models import REMOTE_ACTORS
from ..urls import host_of, is_web
from .net import FetchError, HTTPStatusError
from .reading import as_list, id_of, single

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
REFRESH_AFTER = timedelta(minutes=1)   # a key is refetched on failure at most this often
FAILURE_TTL = timedelta(minutes=2)     # how long a failed lookup is remembered
log = logging.getLogger(__name__)


def generate_key_pair(bits: int = 2048) -> tuple[str, str]:
    """Return (private PEM, public PEM); 2048-bit RSA is what Mastodon expects."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode("ascii")
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    return private_pem, public_pem


# --- results ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteKey:
    """A public key and the actor it belongs to; ``fetched`` says it came from the network just now."""

    key_id: str
    public_key_pem: str
    owner: str
    fetched: bool = False


class KeyUnavailable(Exception):
    """The key cannot be had or trusted; ``gone`` when its server says the actor no longer exists."""

    def __init__(self, reason: str, *, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone


class FailureCache:
    """Recently failed key ids, per process, bounded; entries expire after ``ttl``."""

    def __init__(self, ttl: timedelta = FAILURE_TTL, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[datetime, KeyUnavailable]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, key_id: str, failure: KeyUnavailable, now: datetime) -> None:
        with self._lock:
            self._entries.pop(key_id, None)
            self._entries[key_id] = (now + self.ttl, failure)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def recall(self, key_id: str, now: datetime) -> KeyUnavailable | None:
        with self._lock:
            entry = self._entries.get(key_id)
            if entry is None:
                return None
            if now >= entry[0]:
                del self._entries[key_id]
                return None
            return entry[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


FAILURES = FailureCache()


# --- reading actor documents --------------------------------------------------------------------------------


def find_key(doc: Mapping[str, Any], key_id: str) -> Mapping[str, Any] | None:
    """The ``publicKey`` entry (one object or a list of them) with this id."""
    for key in as_list(doc.get("publicKey")):
        if isinstance(key, Mapping) and key.get("id") == key_id:
            return key
    return None


def is_actor(doc: Any) -> bool:
    return isinstance(doc, Mapping) and bool(set(as_list(doc.get("type"))) & ACTOR_TYPES)


def _text(value: Any, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _first_href(value: Any) -> str | None:
    for entry in as_list(value):
        if isinstance(entry, Mapping):
            entry = entry.get("href") or entry.get("url")
            entry = single(entry)
            if isinstance(entry, Mapping):
                entry = entry.get("href")
        if is_web(entry):
            return entry
    return None


def own_key(doc: Mapping[str, Any]) -> tuple[str, str] | None:
    """(key id, PEM) of the first key the actor document vouches for: owned by it, on its host."""
    uri = doc.get("id")
    for key in as_list(doc.get("publicKey")):
        if not isinstance(key, Mapping):
            continue
        pem, key_id = key.get("publicKeyPem"), key.get("id")
        if (isinstance(pem, str) and is_web(key_id) and host_of(key_id) == host_of(uri)
                and id_of(single(key.get("owner"))) == uri):
            return key_id, pem
    return None


def actor_fields(doc: Mapping[str, Any], *, now: datetime | None = None,
                 key: tuple[str, str] | None = None) -> dict[str, Any]:
    """The ``remote_actors`` columns for an actor document (which must be the real one: fetched from
    its id, or embedded in an activity its owner signed). ``key`` overrides the key found in it."""
    uri = doc.get("id")
    if not is_web(uri):
        raise ValueError("actor has no usable id")
    host = host_of(uri)
    username = single(doc.get("preferredUsername"))
    endpoints = doc.get("endpoints")
    shared = endpoints.get("sharedInbox") if isinstance(endpoints, Mapping) else None
    inbox = single(doc.get("inbox"))
    moved = id_of(single(doc.get("movedTo")))
    key = key or own_key(doc)
    return {
        "uri": uri,
        "inbox": inbox if is_web(inbox) else "",
        "shared_inbox": shared if is_web(shared) else None,
        "handle": f"{username.strip()}@{host}"[:300] if isinstance(username, str) and username.strip() else "",
        "display_name": _text(single(doc.get("name")), 500) or _text(username, 500),
        "url": _first_href(doc.get("url")),
        "icon_url": _first_href(doc.get("icon")),
        "key_id": key[0] if key else None,
        "public_key_pem": key[1] if key else None,
        "moved_to": moved if is_web(moved) else None,
        "fetched_at": now or utcnow(),
    }


# --- the database side --------------------------------------------------------------------------------------


def store_actor(conn: Connection, fields: dict[str, Any], *, key_verified: bool = False) -> int:
    """Insert or refresh an actor by uri (safe against a concurrent insert of the same actor). A missing
    key (or inbox) keeps the stored one.

    A key id belongs to the actor whose document we trusted it from first: an actor's own document (an
    Update it signed, a fetch of its id) may list any key id on its host, so it cannot take a key id that
    another stored actor holds; that key is ignored and the actor keeps the key it had. Only
    ``key_verified`` (``lookup_key``, which resolved the key's owner from the key id itself) moves a key id
    to another actor: that is a real change of owner, not a claim."""
    key_id = fields.get("key_id")
    if key_id:
        holder = REMOTE_ACTORS.c.key_id == key_id, REMOTE_ACTORS.c.uri != fields["uri"]
        if key_verified:
            conn.execute(update(REMOTE_ACTORS).where(*holder).values(key_id=None))
        elif conn.execute(select(REMOTE_ACTORS.c.uri).where(*holder).limit(1)).first() is not None:
            log.warning("ignoring the key %s listed by %s: another actor holds that key id", key_id, fields["uri"])
            fields = {**fields, "key_id": None, "public_key_pem": None}
    changes = {k: v for k, v in fields.items()
               if k != "uri" and not (k in ("inbox", "key_id", "public_key_pem", "moved_to") and not v)}
    statement = dialect_insert(conn, REMOTE_ACTORS).values(**fields, created_at=fields["fetched_at"])
    statement = statement.on_conflict_do_update(index_elements=["uri"], set_=changes).returning(REMOTE_ACTORS.c.id)
    return conn.execute(statement).scalar_one()


# Built once: the inbox reads a key for every POST, and building the query cost more than running it.
_CACHED_KEY = select(REMOTE_ACTORS.c.uri, REMOTE_ACTORS.c.public_key_pem, REMOTE_ACTORS.c.fetched_at).where(
    REMOTE_ACTORS.c.key_id == bindparam("key_id"))


def cached_key(db: Bind, key_id: str) -> tuple[RemoteKey, datetime] | None:
    """The stored key with this id and when it was fetched, without any network."""
    with reading(db) as conn:
        row = conn.execute(_CACHED_KEY, {"key_id": key_id}).first()
    if row is None or not row.public_key_pem:
        return None
    return RemoteKey(key_id, row.public_key_pem, row.uri), row.fetched_at


# --- fetching -----------------------------------------------------------------------------------------------


def _trusted_actor(key_id: str, fetch: Any) -> tuple[dict[str, Any], str]:
    """The owner's actor document (fetched from its own id) and the PEM it lists under ``key_id``.

    ``…/users/a#main-key`` names the actor ``…/users/a``. A key id without a fragment (GoToSocial's
    ``…/users/a/main-key``) serves a key or an actor stub: its ``owner`` is read from it, and the owner's
    own document must then list the key — only that document is trusted."""
    if not is_web(key_id):
        raise KeyUnavailable("keyId is not an http(s) URL")
    host = host_of(key_id)
    base, _, fragment = key_id.partition("#")
    if fragment:
        actor_url = base
    else:
        stub = fetch(key_id, check_id=False)
        key = find_key(stub, key_id) or (stub if stub.get("id") == key_id else None)
        actor_url = id_of(single(key.get("owner"))) if isinstance(key, Mapping) else None
        if not is_web(actor_url) or "#" in actor_url:
            raise KeyUnavailable(f"the document at {key_id} names no owner for the key")
    if host_of(actor_url) != host:
        raise KeyUnavailable(f"the key's owner {actor_url} is not on the key's host {host}")
    actor = fetch(actor_url)
    if not is_actor(actor):
        raise KeyUnavailable(f"{actor_url} is not an actor")
    key = find_key(actor, key_id)
    if key is None:
        raise KeyUnavailable(f"{actor_url} does not list the key {key_id}")
    if id_of(single(key.get("owner"))) != actor.get("id"):
        raise KeyUnavailable(f"the key {key_id} is not owned by {actor_url}")
    pem = key.get("publicKeyPem")
    if not isinstance(pem, str) or not pem.strip():
        raise KeyUnavailable(f"the key {key_id} has no publicKeyPem")
    return actor, pem


def lookup_key(db: Bind, key_id: str, fetch: Any, refresh: bool = False, *,
               now: datetime | None = None, failures: FailureCache = FAILURES) -> RemoteKey:
    """The public key for ``key_id`` and its owner's uri, from the cache or fetched with ``fetch``
    (a ``client.Fetch``: signed, SSRF-guarded). ``refresh`` refetches a cached key (after a failed
    verification: the actor may have rotated it), but not more than once per ``REFRESH_AFTER``.
    Raises ``KeyUnavailable``. The fetch runs outside any transaction; pass an Engine from web code."""
    now = now or utcnow()
    cached = cached_key(db, key_id)
    if cached is not None and (not refresh or now - cached[1] < REFRESH_AFTER):
        return cached[0]
    remembered = failures.recall(key_id, now)
    if remembered is not None:
        raise remembered
    try:
        actor, pem = _trusted_actor(key_id, fetch)
        fields = actor_fields(actor, now=now, key=(key_id, pem))
        with writing(db) as conn:
            store_actor(conn, fields, key_verified=True)
    except KeyUnavailable as failure:
        failures.remember(key_id, failure, now)
        raise
    except HTTPStatusError as exc:
        failure = KeyUnavailable(f"fetching the key failed: {exc.reason}", gone=exc.status in (404, 410))
        failures.remember(key_id, failure, now)
        raise failure from None
    except (FetchError, ValueError) as exc:
        failure = KeyUnavailable(f"fetching the key failed: {exc}")
        failures.remember(key_id, failure, now)
        raise failure from None
    return RemoteKey(key_id, pem, fields["uri"], fetched=True)


def fetch_actor(db: Bind, uri: str, fetch: Any, *, now: datetime | None = None) -> int:
    """Fetch an actor by its id and store it (with the key it vouches for); returns its row id.
    ``FetchError`` and ``ValueError`` (not an actor) reach the caller."""
    doc = fetch(uri)
    if not is_actor(doc):
        raise ValueError(f"{uri} is not an actor")
    fields = actor_fields(doc, now=now)
    with writing(db) as conn:
        return store_actor(conn, fields)


__all__ = ["ACTOR_TYPES", "FAILURES", "FailureCache", "KeyUnavailable", "RemoteKey", "actor_fields", "cached_key",
           "fetch_actor", "find_key", "generate_key_pair", "is_actor", "lookup_key", "own_key", "store_actor"]
