"""What each captured ActivityPub payload (fixtures/activitypub/**) is expected to become, from
fixtures/EXPECTED.toml, and the code that describes what it actually becomes, for the three sweeps:

- ``reads``: what the inbound helpers read out of it (test_fixture_parsing.py);
- ``processed``: what the inbox worker does with it (test_inbox_processing.py);
- ``signed``: what the inbox answers when a peer delivers it signed (test_inbox_verify.py).

A fixture without an entry fails with the entry it would get, to be checked by a reader before it is
pasted in: the table says what each payload *should* become, so a surprising value is a finding, not a
line to copy.
"""
from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest
from sqlalchemy import Engine, select

from linkblog.federation import handlers, keys
from linkblog.federation.reading import as_list, audience, first_link, id_of, is_public, single
from linkblog.models import Base

from tests.support.app import BASE_URL

FIXTURES = Path(__file__).parent / "fixtures"
ACTIVITYPUB = FIXTURES / "activitypub"
TABLE = FIXTURES / "EXPECTED.toml"
FACETS = ("reads", "processed", "signed")
OURS = f"{BASE_URL}/"   # the site every sweep runs as


def payloads() -> list[Path]:
    return sorted(ACTIVITYPUB.rglob("*.json"))


def name_of(path: Path) -> str:
    """The table's key: the path under fixtures/, as SOURCES.md writes it."""
    return path.relative_to(FIXTURES).as_posix()


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def table() -> dict[str, dict[str, Any]]:
    with TABLE.open("rb") as stream:
        return tomllib.load(stream)


def expected(path: Path, facet: str, observed: Any) -> Any:
    """The table's value for one fixture and facet; a missing one fails with the observed value."""
    entry = table().get(name_of(path), {})
    if facet not in entry:
        pytest.fail(f"{name_of(path)} has no `{facet}` in {TABLE.name}; it currently becomes:\n"
                    f"{toml_lines(facet, observed)}\nCheck that this is right before adding it.")
    return entry[facet]


def toml_lines(facet: str, value: Any) -> str:
    """``value`` as the table writes it (strings, booleans, and one level of keys)."""
    if isinstance(value, Mapping):
        return "\n".join(f"{facet}.{key} = {json.dumps(item, ensure_ascii=False)}" for key, item in value.items()) \
            or f"{facet} = {{}}"
    return f"{facet} = {json.dumps(value, ensure_ascii=False)}"


# --- reads: what the helpers read -------------------------------------------------------------------------


def _types(doc: Mapping[str, Any]) -> list[str]:
    return [t for t in as_list(doc.get("type")) if isinstance(t, str)]


def _named(value: Any) -> str | None:
    """``Type id`` for an embedded object, the bare id for a reference."""
    if isinstance(value, Mapping):
        return " ".join([*_types(value), id_of(value) or "(no id)"])
    return id_of(value)


def embedded(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    obj = single(doc.get("object"))
    return obj if isinstance(obj, Mapping) else None


def reads(doc: Any) -> dict[str, Any]:
    """For an actor, the columns we would store for it; for anything else, what it is, who sent or wrote
    it, whether it is public, what it replies to and the link a network post would keep."""
    if not isinstance(doc, Mapping):
        return {"kind": "not a JSON object"}
    if keys.is_actor(doc):
        fields = keys.actor_fields(doc)
        found = {"kind": "actor", "type": " ".join(_types(doc)), "id": fields["uri"], "handle": fields["handle"],
                 "inbox": fields["inbox"], "shared_inbox": fields["shared_inbox"], "key_id": fields["key_id"],
                 "moved_to": fields["moved_to"]}
        return {key: value for key, value in found.items() if value}
    if not _types(doc):
        return {"kind": "no type"}
    obj = embedded(doc)
    post = obj if obj is not None and not keys.is_actor(obj) else doc
    kind = "object" if set(_types(doc)) & handlers.POST_TYPES or "actor" not in doc else "activity"
    found = {"kind": kind, "type": " ".join(_types(doc)), "id": id_of(doc),
             "actor": _named(single(doc.get("actor"))) if "actor" in doc else None,
             "author": " ".join(i for i in (id_of(a) for a in as_list(doc.get("attributedTo"))) if i) or None,
             "object": _named(single(doc.get("object"))),
             "public": any(is_public(a) for a in audience(doc) + audience(post)),
             "reply_to": id_of(single(post.get("inReplyTo"))), "link": first_link(post)}
    return {key: value for key, value in found.items() if value is not None and value != ""}


# --- processed: why the worker ignores a payload ----------------------------------------------------------
#
# The worker records only done/ignored/failed. An "ignored: <reason>" entry names one of these reasons,
# and the sweep checks that the reason holds for the payload, so the table cannot claim a wrong one.


def _target_ids(doc: Mapping[str, Any]) -> list[str]:
    """The object's id, and for an activity about an activity (Undo, Accept, Announce...) its object's."""
    obj = single(doc.get("object"))
    found = [id_of(obj)]
    if isinstance(obj, Mapping):
        found.append(id_of(single(obj.get("object"))))
    return [i for i in found if i]


REASONS: dict[str, tuple[str, Callable[[Mapping[str, Any]], bool]]] = {
    "no handler": ("no type of it has a handler (actors, bare objects, collections, Dislike, Flag...)",
                   lambda doc: not set(_types(doc)) & set(handlers.HANDLERS)),
    "not about us": ("it is about someone else or their posts: nothing it names is ours",
                     lambda doc: not any(i.startswith(OURS) for i in _target_ids(doc))),
    "no link": ("the post it carries has no link to keep as a network post",
                lambda doc: embedded(doc) is not None and first_link(embedded(doc)) is None),
    "not public": ("neither it nor its post is addressed to Public",
                   lambda doc: not any(is_public(a) for a in audience(doc) + audience(embedded(doc) or {}))),
    "nothing kept": ("it changes or removes something we do not keep (theirs, never stored here)",
                     lambda doc: bool(_target_ids(doc)) and not any(i.startswith(OURS) for i in _target_ids(doc))
                     and id_of(single(doc.get("actor"))) not in _target_ids(doc)),
}


def reason_holds(processed: str, doc: Mapping[str, Any]) -> bool:
    """``ignored: <reason>[ (note)]``: the reason is one of REASONS and true for ``doc``."""
    reason = processed.removeprefix("ignored: ").split(" (", 1)[0]
    return reason in REASONS and REASONS[reason][1](doc)


# --- processed: what the worker changed -------------------------------------------------------------------

WATCHED = {  # table: (what a row is called, the columns whose changes describe an outcome)
    "remote_actors": ("actor", ("uri", "inbox", "handle", "display_name", "key_id", "moved_to")),
    "followers": ("follower", ("actor_id", "follow_uri", "state")),
    "following": ("following", ("actor_id", "follow_uri", "state")),
    "interactions": ("interaction", ("kind", "uri", "target_kind", "state")),
    "remote_posts": ("network post", ("uri", "link_url")),
    "outbox_activities": ("sent", ("type", "object_uri")),
}


def snapshot(engine: Engine) -> dict[str, dict[int, tuple]]:
    found = {}
    with engine.connect() as conn:
        for name, (_, columns) in WATCHED.items():
            table = Base.metadata.tables[name]
            found[name] = {row[0]: tuple(row[1:]) for row in
                           conn.execute(select(table.c.id, *(table.c[c] for c in columns)))}
    return found


def _added(label: str, row: dict[str, Any]) -> str:
    if label == "network post":
        return f"network post {row['uri']} linking {row['link_url']}"
    if label == "interaction":
        return f"{row['kind']} {row['uri']} ({row['state']}) on our {row['target_kind']}"
    if label == "sent":
        return f"sent {row['type']} of {row['object_uri']}"
    return f"{label} added: " + ", ".join(f"{key} {value}" for key, value in row.items() if value)


def changes(before: dict[str, dict[int, tuple]], after: dict[str, dict[int, tuple]]) -> list[str]:
    """What processing changed, in words: ``network post <uri> linking <url>``, ``actor <uri> removed``..."""
    said: list[str] = []
    for name, (label, columns) in WATCHED.items():
        old, new = before[name], after[name]
        said += [_added(label, dict(zip(columns, new[i]))) for i in sorted(new.keys() - old.keys())]
        said += [f"{label} {old[i][0]} removed" if label == "actor" else f"{label} row removed"
                 for i in sorted(old.keys() - new.keys())]
        for row_id in sorted(old.keys() & new.keys()):
            if old[row_id] != new[row_id]:
                edits = [f"{c} {v}" for c, o, v in zip(columns, old[row_id], new[row_id]) if o != v]
                said.append(f"{label} {new[row_id][0]} updated: {', '.join(edits)}")
    return said


def processed(state: str, error: str, said: list[str]) -> str:
    """The worker's outcome as the table writes it (an ignored entry then adds its reason)."""
    if state == "failed":
        return f"failed: {error}"
    if state == "done":
        return "done: " + ("; ".join(said) or "nothing changed")
    return state


def check_processed(path: Path, doc: Any, observed: str, said: list[str]) -> None:
    holding = [name for name, (_, holds) in REASONS.items() if isinstance(doc, Mapping) and holds(doc)]
    want = expected(path, "processed", observed if observed != "ignored" else
                    f"ignored: <one of: {', '.join(holding) or 'none yet, add one to REASONS'}> (<note>)")
    if want.startswith("ignored: "):
        assert (observed, said) == ("ignored", []), f"{name_of(path)}: expected {want!r}"
        assert reason_holds(want, doc), f"{name_of(path)}: {want!r}, but only these reasons hold: {holding}"
    else:
        assert observed == want
