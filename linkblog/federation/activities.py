"""The activities we send: Create, Update and Delete of our objects, Follow, Accept, Reject, Undo, Like,
Announce, Block and Move. Each is addressed here, so every sender (publishing, the inbox's answers,
following, responses, moving) addresses the same activity the same way.

Pure like :mod:`.objects`: plain data in, JSON-ready dicts out; every id comes from ``urls(config)``.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..states import Visibility
from .objects import ACTOR_CONTEXT, AS_CONTEXT, NotFederated, actor_document, iso, urls, without_context
from .reading import PUBLIC, as_list, id_of


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _activity(kind: str, config: Any, body: dict[str, Any], *, context: Any = AS_CONTEXT,
              activity_id: str | None = None) -> dict[str, Any]:
    u = urls(config)
    return {"@context": context, "id": activity_id or u.activity(), "type": kind, "actor": u.actor, **body}


def create(obj: Mapping[str, Any], config: Any, *, activity_id: str | None = None) -> dict[str, Any]:
    """Create wrapping one of our objects; same addressing and date as the object."""
    body = {"published": obj.get("published") or iso(_now()), "to": list(as_list(obj.get("to"))),
            "cc": list(as_list(obj.get("cc"))), "object": without_context(obj)}
    return _activity("Create", config, body, context=obj.get("@context", AS_CONTEXT), activity_id=activity_id)


def update(obj: Mapping[str, Any], config: Any, *, activity_id: str | None = None,
           now: datetime | None = None) -> dict[str, Any]:
    """Update carrying the whole new object. Mastodon only applies an edit whose object has an
    ``updated`` newer than what it holds, so one is added (now) when the object lacks it."""
    stamp = obj.get("updated") or iso(now or _now())
    body = {"published": stamp, "to": list(as_list(obj.get("to"))), "cc": list(as_list(obj.get("cc"))),
            "object": {**without_context(obj), "updated": stamp}}
    return _activity("Update", config, body, context=obj.get("@context", AS_CONTEXT), activity_id=activity_id)


def delete(object_id: str, config: Any, *, former_type: str = "Note", visibility: str = Visibility.PUBLIC,
           activity_id: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Delete with the object as a Tombstone; ``visibility`` is what the object had when federated:
    public/unlisted go to Public + followers, followers-only to followers alone."""
    u = urls(config)
    if visibility in (Visibility.PUBLIC, Visibility.UNLISTED):
        to, cc = [PUBLIC], [u.followers]
    elif visibility == Visibility.FOLLOWERS:
        to, cc = [u.followers], []
    else:
        raise NotFederated(f"{visibility!r} items were never federated, so there is nothing to delete")
    body = {"published": iso(now or _now()), "to": to, "cc": cc,
            "object": {"id": object_id, "type": "Tombstone", "formerType": former_type}}
    return _activity("Delete", config, body, activity_id=activity_id)


def _follow_ref(follow: Any) -> tuple[Any, str | None]:
    """The Follow to embed in Accept/Reject (its id, type, actor, object) and who sent it."""
    if not isinstance(follow, Mapping):
        return follow, None
    embedded = {k: follow[k] for k in ("id", "type", "actor", "object") if k in follow}
    embedded.setdefault("type", "Follow")
    for key in ("actor", "object"):
        if isinstance(embedded.get(key), Mapping):
            embedded[key] = id_of(embedded[key])
    return embedded, id_of(follow.get("actor"))


def accept(follow: Any, config: Any, *, activity_id: str | None = None) -> dict[str, Any]:
    """Accept of an inbound Follow (the received dict, or its id), addressed to the follower."""
    obj, follower = _follow_ref(follow)
    return _activity("Accept", config, {"to": [follower] if follower else [], "object": obj},
                     activity_id=activity_id)


def reject(follow: Any, config: Any, *, activity_id: str | None = None) -> dict[str, Any]:
    """Reject of an inbound Follow, addressed to the would-be follower."""
    obj, follower = _follow_ref(follow)
    return _activity("Reject", config, {"to": [follower] if follower else [], "object": obj},
                     activity_id=activity_id)


def follow(target: str, config: Any, *, activity_id: str | None = None) -> dict[str, Any]:
    """Follow of a remote actor (its id); keep the id: their Accept/Reject will refer to it."""
    return _activity("Follow", config, {"to": [target], "object": target}, activity_id=activity_id)


def undo(activity: Mapping[str, Any], config: Any, *, activity_id: str | None = None) -> dict[str, Any]:
    """Undo of one of our activities (Follow, Like, Announce), embedded whole, with its addressing."""
    body = {"to": list(as_list(activity.get("to"))), "cc": list(as_list(activity.get("cc"))),
            "object": without_context(activity)}
    return _activity("Undo", config, body, activity_id=activity_id)


def like(object_id: str, config: Any, *, object_actor: str | None = None,
         activity_id: str | None = None) -> dict[str, Any]:
    """Like of a remote post, addressed to its author when known."""
    return _activity("Like", config, {"to": [object_actor] if object_actor else [], "object": object_id},
                     activity_id=activity_id)


def announce(object_id: str, config: Any, *, object_actor: str | None = None,
             activity_id: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """A public boost: to Public, cc our followers and the post's author."""
    cc = [urls(config).followers] + ([object_actor] if object_actor else [])
    body = {"published": iso(now or _now()), "to": [PUBLIC], "cc": cc, "object": object_id}
    return _activity("Announce", config, body, activity_id=activity_id)


def block(target: str, config: Any, *, activity_id: str | None = None) -> dict[str, Any]:
    """Block of a remote actor; Mastodon drops both follow relationships when it arrives."""
    return _activity("Block", config, {"to": [target], "object": target}, activity_id=activity_id)


def actor_update(owner: Any, config: Any, *, activity_id: str | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """Update of the owner's actor, public like Mastodon's profile updates, so followers' servers
    refresh what they hold (name, aliases, movedTo) without waiting for their cache to expire."""
    doc = actor_document(owner, config)
    stamp = iso(now or _now())
    body = {"published": stamp, "to": [PUBLIC], "cc": [urls(config).followers],
            "object": {**without_context(doc), "updated": stamp}}
    return _activity("Update", config, body, context=ACTOR_CONTEXT, activity_id=activity_id)


def move(target: str, config: Any, *, activity_id: str | None = None) -> dict[str, Any]:
    """Move of the owner's account to ``target`` (actor and object are us), sent to our followers;
    their servers follow ``target`` once its alsoKnownAs names us."""
    u = urls(config)
    return _activity("Move", config, {"to": [u.followers], "object": u.actor, "target": target},
                     activity_id=activity_id)
