"""Discovery and the read side of federation, through the app (SQLite, and PostgreSQL when configured)."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import event, insert

from linkblog.models import Follower, Following, RemoteActor, Tombstone, Weeknote

from tests.support.app import BASE_URL, make_config

AP = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
SCHEMAS = Path(__file__).parent / "fixtures" / "nodeinfo" / "schema"
T0 = datetime(2026, 3, 2, 9, 0, 0)


# --- helpers ----------------------------------------------------------------------------------------------


def add_weeknote(engine, week: str, **fields: Any) -> None:
    values = {"week": week, "title": f"Notes {week}", "body": "", "body_html": "<p>What happened.</p>",
              "status": "published", "visibility": "public", "created_at": T0, "updated_at": T0,
              "published_at": T0}
    values.update(fields)
    with engine.begin() as conn:
        conn.execute(insert(Weeknote).values(**values))


def add_remote(engine, uri: str, handle: str = "") -> int:
    with engine.begin() as conn:
        return conn.execute(insert(RemoteActor).values(uri=uri, inbox=uri + "/inbox", handle=handle)
                            .returning(RemoteActor.id)).scalar_one()


def configure(app, **options: Any) -> None:
    """Swap the running app's config (the Site holder is mutable; the engine stays)."""
    holder = app.extensions["linkblog"]
    holder.config = make_config(holder.config.database_url, **options)


def get_ap(client, path: str, accept: str = AP):  # noqa: ANN001, ANN201
    return client.get(path, headers={"Accept": accept})


class QueryCounter:
    def __init__(self, engine) -> None:  # noqa: ANN001
        self.count = 0
        self.engine = engine

    def __enter__(self) -> "QueryCounter":
        event.listen(self.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._hit)

    def _hit(self, *args: object) -> None:
        self.count += 1


def schema_errors(value: Any, schema: dict, path: str = "$") -> list[str]:
    """The JSON Schema draft-04 keywords the NodeInfo schemas use (jsonschema is not a dependency)."""
    errors: list[str] = []
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int}
    if kind and (not isinstance(value, types[kind]) or (kind == "integer" and isinstance(value, bool))):
        return [f"{path}: expected {kind}, got {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if "minimum" in schema and isinstance(value, int) and value < schema["minimum"]:
        errors.append(f"{path}: {value} < {schema['minimum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), f"{path}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{path}: missing {key}" for key in schema.get("required", []) if key not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"{path}: unexpected {key}" for key in value if key not in properties]
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], f"{path}.{key}")
    return errors


def load_schema(version: str) -> dict:
    return json.loads((SCHEMAS / f"nodeinfo-{version}.schema.json").read_text())


# --- WebFinger and host-meta ------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["acct:owner@links.test", "acct:OWNER@Links.Test", "owner@links.test",
                                      f"{BASE_URL}/actor", f"{BASE_URL}/"])
def test_webfinger_finds_the_owner(client, resource):
    response = client.get("/.well-known/webfinger", query_string={"resource": resource})
    assert response.status_code == 200
    assert response.mimetype == "application/jrd+json"
    doc = response.get_json(force=True)
    assert doc["subject"] == "acct:owner@links.test"
    assert doc["aliases"] == [f"{BASE_URL}/actor", f"{BASE_URL}/"]
    links = {link["rel"]: link for link in doc["links"]}
    assert links["self"] == {"rel": "self", "type": AP, "href": f"{BASE_URL}/actor"}
    assert links["http://webfinger.net/rel/profile-page"]["href"] == f"{BASE_URL}/"
    assert links["http://webfinger.net/rel/profile-page"]["type"] == "text/html"
    assert links["http://ostatus.org/schema/1.0/subscribe"]["template"] == \
        f"{BASE_URL}/authorize_interaction?uri={{uri}}"


def test_webfinger_host_includes_the_port(app, client):
    configure(app, **{"site.base_url": "http://links.test:8080"})
    ok = client.get("/.well-known/webfinger?resource=acct:owner@links.test:8080")
    assert ok.status_code == 200
    assert ok.get_json(force=True)["subject"] == "acct:owner@links.test:8080"
    assert client.get("/.well-known/webfinger?resource=acct:owner@links.test").status_code == 404


@pytest.mark.parametrize("resource", ["acct:someone@links.test", "acct:owner@elsewhere.example",
                                      "acct:@owner@links.test", "acct:owner@links.test@evil.example",
                                      "acct:owner", "acct:@links.test", f"{BASE_URL}/bookmarks/1",
                                      "https://evil.example/actor"])
def test_webfinger_refuses_other_resources(client, resource):
    response = client.get("/.well-known/webfinger", query_string={"resource": resource})
    assert response.status_code == 404
    assert "error" in response.get_json(force=True)


@pytest.mark.parametrize("query", ["", "?resource=", "?resource=%20"])
def test_webfinger_needs_a_resource(client, query):
    assert client.get("/.well-known/webfinger" + query).status_code == 400


def test_host_meta_points_at_webfinger(client):
    response = client.get("/.well-known/host-meta")
    assert response.status_code == 200
    assert response.mimetype == "application/xrd+xml"
    root = ET.fromstring(response.data)
    link = root.find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None and link.get("rel") == "lrdd"
    assert link.get("template") == f"{BASE_URL}/.well-known/webfinger?resource={{uri}}"


# --- NodeInfo ---------------------------------------------------------------------------------------------


def test_well_known_nodeinfo_links_both_versions(client):
    response = client.get("/.well-known/nodeinfo")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json()["links"] == [
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": f"{BASE_URL}/nodeinfo/2.1"},
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": f"{BASE_URL}/nodeinfo/2.0"},
    ]


def test_schema_checker_accepts_the_official_examples_and_rejects_junk():
    for version in ("2.0", "2.1"):
        example = json.loads((SCHEMAS / f"nodeinfo-{version}.example.json").read_text())
        assert schema_errors(example, load_schema(version)) == []
        bad = {**example, "software": {"name": "Bad Name"}, "usage": {"users": {"total": -1}}, "extra": 1}
        assert len(schema_errors(bad, load_schema(version))) >= 4


# Every file in fixtures/nodeinfo/schema → (what it is, the NodeInfo version, and for a schema its id, for an
# example the software it names: name and version).
NODEINFO_FIXTURES = {
    "nodeinfo-2.0.example.json": ("example", "2.0", "diaspora 0.5.0"),
    "nodeinfo-2.0.schema.json": ("schema", "2.0", "http://nodeinfo.diaspora.software/ns/schema/2.0#"),
    "nodeinfo-2.1.example.json": ("example", "2.1", "diaspora 0.5.0"),
    "nodeinfo-2.1.schema.json": ("schema", "2.1", "http://nodeinfo.diaspora.software/ns/schema/2.1#"),
}


def test_every_nodeinfo_fixture_is_what_the_table_says():
    assert sorted(p.name for p in SCHEMAS.iterdir()) == sorted(NODEINFO_FIXTURES)
    for name, (kind, version, what) in NODEINFO_FIXTURES.items():
        doc = json.loads((SCHEMAS / name).read_text())
        if kind == "schema":
            assert (doc["$schema"], doc["id"]) == ("http://json-schema.org/draft-04/schema#", what), name
        else:
            assert (doc["version"], f"{doc['software']['name']} {doc['software']['version']}") == (version, what)
            assert schema_errors(doc, load_schema(version)) == [], name


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_nodeinfo_matches_the_official_schema(client, engine, make_bookmark, version):
    make_bookmark.row("https://example.org/one", title="one", created_at=T0)
    make_bookmark.row("https://example.org/two", title="two", created_at=T0)
    make_bookmark.row("https://example.org/hidden", title="hidden", visibility="private", created_at=T0)
    make_bookmark.row("https://example.org/quiet", title="quiet", visibility="unlisted", created_at=T0)
    add_weeknote(engine, "2026-W09")
    add_weeknote(engine, "2026-W10", status="draft")
    add_weeknote(engine, "2026-W11", visibility="followers")
    response = client.get(f"/nodeinfo/{version}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == \
        f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'
    doc = json.loads(response.data)
    assert schema_errors(doc, load_schema(version)) == []
    assert doc["version"] == version
    assert doc["software"]["name"] == "linkblog" and doc["software"]["version"]
    assert doc["protocols"] == ["activitypub"]
    assert doc["openRegistrations"] is False
    assert doc["usage"]["users"]["total"] == 1
    assert doc["usage"]["localPosts"] == 3
    assert doc["metadata"]["nodeName"] == "My links"


def test_unknown_nodeinfo_version_is_404(client):
    assert client.get("/nodeinfo/3.0").status_code == 404


# --- Actor ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", [AP, LD, "application/activity+json, application/ld+json",
                                    "application/activity+json, text/html;q=0.1"])
def test_actor_json(client, key_pair, accept):
    response = get_ap(client, "/actor", accept)
    assert response.status_code == 200
    assert response.mimetype == AP
    assert "Accept" in response.headers["Vary"]
    doc = json.loads(response.data)
    assert doc["type"] == "Person" and doc["id"] == f"{BASE_URL}/actor"
    assert doc["preferredUsername"] == "owner" and doc["name"] == "The Owner"
    assert doc["inbox"] == f"{BASE_URL}/actor/inbox"
    assert doc["endpoints"]["sharedInbox"] == f"{BASE_URL}/inbox"
    assert doc["outbox"] == f"{BASE_URL}/actor/outbox"
    assert doc["followers"] == f"{BASE_URL}/actor/followers"
    assert doc["following"] == f"{BASE_URL}/actor/following"
    assert doc["manuallyApprovesFollowers"] is False and doc["discoverable"] is True
    assert doc["publicKey"]["id"] == f"{BASE_URL}/actor#main-key"
    assert doc["publicKey"]["owner"] == f"{BASE_URL}/actor"
    served = serialization.load_pem_public_key(doc["publicKey"]["publicKeyPem"].encode())
    private = serialization.load_pem_private_key(key_pair[0].encode(), password=None)
    assert served.public_numbers() == private.public_key().public_numbers()


def test_actor_reflects_manual_approval(app, client):
    configure(app, **{"federation.manually_approves_followers": True})
    assert get_ap(client, "/actor").get_json(force=True)["manuallyApprovesFollowers"] is True


@pytest.mark.parametrize("accept", [BROWSER, "*/*", "application/json", None,
                                    "text/html, application/activity+json;q=0.5"])
def test_actor_redirects_browsers_home(client, accept):
    response = client.get("/actor", headers={"Accept": accept} if accept else {})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Accept" in response.headers["Vary"]


# --- Bookmarks and weeknotes as objects -------------------------------------------------------------------


@pytest.mark.parametrize("accept", [AP, LD])
def test_public_bookmark_as_note(client, make_bookmark, accept):
    bookmark_id = make_bookmark.row("https://example.org/readable", title="Readable", annotation_html="<p>Good.</p>",
                                    tags_text="web", created_at=T0)
    response = get_ap(client, f"/bookmarks/{bookmark_id}", accept)
    assert response.status_code == 200
    assert response.mimetype == AP
    assert "Accept" in response.headers["Vary"]
    doc = json.loads(response.data)
    assert doc["id"] == f"{BASE_URL}/bookmarks/{bookmark_id}" and doc["type"] == "Note"
    assert doc["to"] == [PUBLIC] and doc["cc"] == [f"{BASE_URL}/actor/followers"]
    assert doc["attachment"][0]["href"] == "https://example.org/readable"
    assert "<p>Good.</p>" in doc["content"] and "summary" not in doc
    assert doc["tag"] == [{"type": "Hashtag", "href": f"{BASE_URL}/tags/web", "name": "#web"}]


def test_bookmark_html_is_unaffected(client, make_bookmark):
    bookmark_id = make_bookmark.row("https://example.org/Readable", title="Readable", created_at=T0)
    response = client.get(f"/bookmarks/{bookmark_id}", headers={"Accept": BROWSER})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "Accept" in response.headers["Vary"]
    assert b"Readable" in response.data


def test_unlisted_bookmark_is_served_with_quiet_addressing(client, make_bookmark):
    bookmark_id = make_bookmark.row("https://example.org/x", visibility="unlisted", created_at=T0)
    doc = get_ap(client, f"/bookmarks/{bookmark_id}").get_json(force=True)
    assert doc["to"] == [f"{BASE_URL}/actor/followers"] and doc["cc"] == [PUBLIC]


@pytest.mark.parametrize("visibility", ["followers", "private"])
def test_restricted_bookmarks_are_404_to_unsigned_fetches(client, owner, make_bookmark, visibility):
    bookmark_id = make_bookmark.row("https://example.org/Secret thing", title="Secret thing", visibility=visibility,
                                    created_at=T0)
    for fetcher in (client, owner):
        response = get_ap(fetcher, f"/bookmarks/{bookmark_id}")
        assert response.status_code == 404
        assert b"Secret thing" not in response.data


def test_bookmark_with_via_credits_the_author(client, engine, make_bookmark):
    add_remote(engine, "https://social.example/users/ann", handle="ann@social.example")
    bookmark_id = make_bookmark.row("https://example.org/x", via_actor_uri="https://social.example/users/ann",
                                    via_post_uri="https://social.example/@ann/1", created_at=T0)
    doc = get_ap(client, f"/bookmarks/{bookmark_id}").get_json(force=True)
    assert {"type": "Mention", "href": "https://social.example/users/ann",
            "name": "@ann@social.example"} in doc["tag"]
    assert "https://social.example/users/ann" in doc["cc"]
    assert "@<span>ann</span>" in doc["content"]


def test_deleted_bookmark_is_gone(client, engine):
    with engine.begin() as conn:
        conn.execute(insert(Tombstone).values(uri=f"{BASE_URL}/bookmarks/99", former_type="Note",
                                              deleted_at=T0))
    response = get_ap(client, "/bookmarks/99")
    assert response.status_code == 410
    assert response.mimetype == AP
    assert json.loads(response.data) == {"@context": "https://www.w3.org/ns/activitystreams",
                                         "id": f"{BASE_URL}/bookmarks/99", "type": "Tombstone",
                                         "formerType": "Note", "deleted": "2026-03-02T09:00:00Z"}
    assert get_ap(client, "/bookmarks/98").status_code == 404


@pytest.mark.parametrize("accept", [AP, LD])
def test_weeknote_as_note(client, engine, accept):
    add_weeknote(engine, "2026-W10", title="Busy week", body_html="<p>All of it.</p>")
    response = get_ap(client, "/weeknotes/2026-W10", accept)
    assert response.status_code == 200 and response.mimetype == AP
    assert "Accept" in response.headers["Vary"]
    doc = json.loads(response.data)
    assert doc["type"] == "Note" and doc["id"] == f"{BASE_URL}/weeknotes/2026-W10"
    assert doc["content"] == "<p><strong>Busy week</strong></p><p>All of it.</p>"
    assert "summary" not in doc


def test_weeknote_as_article(app, client, engine):
    configure(app, **{"federation.weeknote_type": "Article"})
    add_weeknote(engine, "2026-W10", title="Busy week", body_html="<p>All of it.</p>", visibility="unlisted")
    doc = get_ap(client, "/weeknotes/2026-W10").get_json(force=True)
    assert doc["type"] == "Article" and doc["name"] == "Busy week"
    assert doc["content"] == "<p>All of it.</p>" and doc["summary"] == "All of it."
    assert doc["url"] == f"{BASE_URL}/weeknotes/2026-W10"


def test_weeknote_html_is_unaffected(client, engine):
    add_weeknote(engine, "2026-W10", title="Busy week")
    response = client.get("/weeknotes/2026-W10", headers={"Accept": BROWSER})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Accept" in response.headers["Vary"]
    assert b"Busy week" in response.data


@pytest.mark.parametrize("fields", [{"status": "draft"}, {"visibility": "private"}, {"visibility": "followers"}])
def test_hidden_weeknotes_are_404(client, engine, fields):
    add_weeknote(engine, "2026-W10", title="Secret week", **fields)
    response = get_ap(client, "/weeknotes/2026-W10")
    assert response.status_code == 404
    assert b"Secret week" not in response.data


def test_deleted_weeknote_is_gone_and_bad_weeks_404(client, engine):
    with engine.begin() as conn:
        conn.execute(insert(Tombstone).values(uri=f"{BASE_URL}/weeknotes/2026-W05", former_type="Article",
                                              deleted_at=T0))
    response = get_ap(client, "/weeknotes/2026-W05")
    assert response.status_code == 410
    assert response.get_json(force=True)["formerType"] == "Article"
    assert get_ap(client, "/weeknotes/2026-W99").status_code == 404
    assert get_ap(client, "/weeknotes/nope").status_code == 404


# --- Outbox -----------------------------------------------------------------------------------------------


def test_outbox_pages_newest_first_and_hides_private_items(client, engine, make_bookmark):
    add_remote(engine, "https://social.example/users/ann", handle="ann@social.example")
    for n in range(23):
        make_bookmark.row(f"https://example.org/public-{n:02d}", title=f"public-{n:02d}",
                          via_actor_uri="https://social.example/users/ann" if n % 5 == 0 else None,
                          created_at=T0 + timedelta(minutes=n), updated_at=T0)
    make_bookmark.row("https://example.org/Secret thing", title="Secret thing", visibility="private",
                      created_at=T0 + timedelta(hours=5), updated_at=T0)
    make_bookmark.row("https://example.org/Quiet thing", title="Quiet thing", visibility="unlisted",
                      created_at=T0 + timedelta(hours=5), updated_at=T0)
    add_weeknote(engine, "2026-W10", published_at=T0 + timedelta(hours=1))
    add_weeknote(engine, "2026-W11", title="Draft week", status="draft", published_at=T0 + timedelta(hours=6))

    collection = get_ap(client, "/actor/outbox")
    assert collection.status_code == 200 and collection.mimetype == AP
    doc = json.loads(collection.data)
    assert doc["type"] == "OrderedCollection" and doc["totalItems"] == 24
    assert doc["first"] == f"{BASE_URL}/actor/outbox?page=true"

    with QueryCounter(engine) as first_queries:
        first = get_ap(client, "/actor/outbox?page=true").get_json(force=True)
    assert first["type"] == "OrderedCollectionPage" and first["partOf"] == f"{BASE_URL}/actor/outbox"
    items = first["orderedItems"]
    assert len(items) == 20
    assert all(i["type"] == "Create" and i["actor"] == f"{BASE_URL}/actor" for i in items)
    assert items[0]["object"]["id"] == f"{BASE_URL}/weeknotes/2026-W10"
    assert items[1]["object"]["name"] == "public-22"
    assert all(PUBLIC in i["to"] for i in items)
    assert "next" in first

    with QueryCounter(engine) as second_queries:
        second = client.get(first["next"].removeprefix(BASE_URL), headers={"Accept": AP}).get_json(force=True)
    assert [i["object"]["name"] for i in second["orderedItems"]] == ["public-03", "public-02", "public-01",
                                                                     "public-00"]
    assert "next" not in second
    assert first_queries.count == second_queries.count == 3  # two streams and the via handles

    every = items + second["orderedItems"]
    assert len({i["id"] for i in every}) == 24
    body = json.dumps(first) + json.dumps(second)
    assert "Secret thing" not in body and "Quiet thing" not in body and "Draft week" not in body
    again = get_ap(client, "/actor/outbox?page=true").get_json(force=True)
    assert [i["id"] for i in again["orderedItems"]] == [i["id"] for i in items]


def test_outbox_rejects_a_broken_cursor(client):
    assert get_ap(client, "/actor/outbox?page=true&before=garbage").status_code == 400


def test_empty_outbox(client):
    doc = get_ap(client, "/actor/outbox").get_json(force=True)
    assert doc["totalItems"] == 0
    page = get_ap(client, "/actor/outbox?page=true").get_json(force=True)
    assert page["orderedItems"] == [] and "next" not in page


# --- Followers and following ------------------------------------------------------------------------------


def add_relations(engine) -> None:
    states = ["accepted", "accepted", "pending", "accepted"]
    for n, state in enumerate(states):
        actor = add_remote(engine, f"https://f{n}.example/users/u")
        with engine.begin() as conn:
            conn.execute(insert(Follower).values(actor_id=actor, follow_uri=f"https://f{n}.example/follow",
                                                 state=state))
    for n, state in enumerate(["accepted", "pending"]):
        actor = add_remote(engine, f"https://g{n}.example/users/u")
        with engine.begin() as conn:
            conn.execute(insert(Following).values(actor_id=actor, follow_uri=f"{BASE_URL}/activities/{n}",
                                                  state=state))


def test_collections_show_only_counts_by_default(client, engine):
    add_relations(engine)
    followers = get_ap(client, "/actor/followers")
    assert followers.status_code == 200 and followers.mimetype == AP
    doc = json.loads(followers.data)
    assert doc == {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{BASE_URL}/actor/followers",
                   "type": "OrderedCollection", "totalItems": 3}
    following = get_ap(client, "/actor/following").get_json(force=True)
    assert following["totalItems"] == 1 and "first" not in following
    assert get_ap(client, "/actor/followers?page=true").status_code == 404


def test_collections_list_accepted_members_when_published(app, client, engine):
    configure(app, **{"federation.publish_collections": True})
    add_relations(engine)
    doc = get_ap(client, "/actor/followers").get_json(force=True)
    assert doc["totalItems"] == 3 and doc["first"] == f"{BASE_URL}/actor/followers?page=true"
    page = get_ap(client, "/actor/followers?page=true").get_json(force=True)
    assert page["type"] == "OrderedCollectionPage"
    assert page["orderedItems"] == ["https://f3.example/users/u", "https://f1.example/users/u",
                                    "https://f0.example/users/u"]
    following = get_ap(client, "/actor/following?page=true").get_json(force=True)
    assert following["orderedItems"] == ["https://g0.example/users/u"]
    assert get_ap(client, "/actor/followers?page=true&before=x").status_code == 400
