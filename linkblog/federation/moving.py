"""Moving the owner's fediverse account: aliases (``alsoKnownAs``) for moving in, ``Move`` for moving out.

Moving in needs nothing but an alias: the old account's server sends a Move to its followers, and their
servers follow us once our actor lists the old account in ``alsoKnownAs``. Moving out is the mirror:
the new account must list us first, then our followers get a Move and the actor carries ``movedTo``.

As in ``following.py``, the network comes first (signed WebFinger and actor fetch through the guarded
client) and the change is one short transaction that also queues what followers must be told, so a
refusal or a crash leaves nothing half done.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select, update

from ..config import Config
from ..db import utcnow
from ..queries.owner import Moved, is_the_owner, moved, owner_row
from ..models import OWNER_TABLE, REMOTE_ACTORS
from . import activities, keys, objects, publish
from .delivery import queue
from .net import FetchClient
from .following import FollowError, Found, lookup, parse_target
from .reading import as_list, id_of

MAX_ALIASES = 20


class MoveError(FollowError):
    """Something the owner can fix: a missing alias on the new account, an unknown account."""


@dataclass(frozen=True)
class Alias:
    """One stored alias, with what we know of the account (for the owner's page)."""

    uri: str
    handle: str
    url: str | None


def _at(handle: str, uri: str) -> str:
    return f"@{handle}" if handle else uri


def _stored_aliases(conn: Connection) -> list[str]:
    stored = conn.execute(select(OWNER_TABLE.c.also_known_as).where(is_the_owner())).scalar()
    if stored is None:
        raise MoveError("This site has no owner yet: run `linkblog init` first.")
    return objects.split_aliases(stored)


def _save_aliases(conn: Connection, config: Config, aliases: list[str]) -> None:
    conn.execute(update(OWNER_TABLE).where(is_the_owner()).values(also_known_as="\n".join(aliases)))
    publish.actor_updated(conn, config)


def aliases(conn: Connection) -> list[Alias]:
    """The aliases in the order they were added, with handles where the account is known."""
    uris = _stored_aliases(conn)
    known = {r.uri: r for r in conn.execute(select(REMOTE_ACTORS.c.uri, REMOTE_ACTORS.c.handle, REMOTE_ACTORS.c.url)
                                            .where(REMOTE_ACTORS.c.uri.in_(uris)))}
    return [Alias(u, known[u].handle if u in known else "", known[u].url if u in known else None) for u in uris]


def add_alias(engine: Engine, config: Config, target: str, fetcher: FetchClient) -> str:
    """Resolve the account (signed WebFinger + actor fetch), then store its actor id as an alias and
    queue an Update of our actor to followers. Adding one already there changes nothing."""
    found = lookup(engine, config, target, fetcher)
    uri = found.fields["uri"]
    name = _at(found.fields["handle"], uri)
    with engine.begin() as conn:
        current = _stored_aliases(conn)
        if uri in current:
            return f"{name} is already an alias of this account."
        if len(current) >= MAX_ALIASES:
            raise MoveError(f"This account already has {MAX_ALIASES} aliases; remove one you no longer need first.")
        keys.store_actor(conn, found.fields)
        _save_aliases(conn, config, current + [uri])
    return f"Added {name} as an alias: it can now move its followers here."


def remove_alias(engine: Engine, config: Config, target: str) -> str:
    """Forget an alias given as a handle or an actor id (no network), and queue an Update of our actor."""
    kind, value = parse_target(target)
    with engine.begin() as conn:
        known = aliases(conn)
        match = next((a for a in known if (a.uri == value if kind == "url" else a.handle.lower() == value.lower())),
                     None)
        if match is None:
            shown = f"@{value}" if kind == "handle" else value
            raise MoveError(f"{shown} is not an alias of this account; `linkblog alias list` shows them.")
        _save_aliases(conn, config, [a.uri for a in known if a.uri != match.uri])
    return f"Removed {_at(match.handle, match.uri)} from the aliases."


def check_target(engine: Engine, config: Config, target: str, fetcher: FetchClient) -> Found:
    """The account to move to, fetched now (signed, guarded), refused unless it names us in its
    ``alsoKnownAs``: followers' servers check the same thing and would ignore our Move otherwise."""
    found = lookup(engine, config, target, fetcher)
    ours = objects.urls(config).actor
    named = {id_of(a) for a in as_list(found.doc.get("alsoKnownAs"))}
    if ours not in named:
        raise MoveError(f"{found.shown} does not list this account as an alias yet. Add {ours} as an alias "
                        f"(\"also known as\") on the new account first, then try again. Nothing was changed.")
    return found


def move(engine: Engine, config: Config, found: Found) -> str:
    """In one transaction: record the move, queue a Move to every follower (one per shared inbox) and
    an Update of our actor, which now carries ``movedTo``. Moving again to another account is allowed;
    followers who already moved with us are not ours any more, so they are not asked twice."""
    uri = found.fields["uri"]
    name = _at(found.fields["handle"], uri)
    with engine.begin() as conn:
        current = owner_row(conn, OWNER_TABLE.c.moved_to)
        if current is None:
            raise MoveError("This site has no owner yet: run `linkblog init` first.")
        if current.moved_to == uri:
            return f"This account has already moved to {name}; nothing was sent again."
        keys.store_actor(conn, found.fields)
        conn.execute(update(OWNER_TABLE).where(is_the_owner()).values(moved_to=uri, moved_at=utcnow()))
        activity = activities.move(uri, config)
        inboxes = publish.follower_inboxes(conn)
        queue(conn, uri=activity["id"], type_="Move", object_uri=activity["object"],
              payload=json.dumps(activity, separators=(",", ":"), ensure_ascii=False), public=False,
              inboxes=inboxes)
        publish.actor_updated(conn, config)
    count = len(inboxes)
    return (f"Moved to {name}: a Move is on its way to {count} follower server{'s' if count != 1 else ''}, "
            "whose accounts will follow the new account. This cannot be undone on their side.")


__all__ = ["Alias", "MoveError", "Moved", "add_alias", "aliases", "check_target", "move", "moved", "remove_alias"]
