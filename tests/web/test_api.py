"""The JSON API through the Flask test client, on SQLite and PostgreSQL: tokens, bookmarks, weeknotes."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from linkblog import create_app, tokens
from linkblog.cli import main
from linkblog.models import ApiToken, Bookmark, BookmarkTag, Tag, Weeknote

from tests.support.app import BASE_URL, make_config

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TABLES = (Bookmark.__table__, Tag.__table__, BookmarkTag.__table__, Weeknote.__table__)


class Api:
    """The test client with a bearer token on every request."""

    def __init__(self, client, token: str):  # noqa: ANN001
        self.client, self.token = client, token

    def __call__(self, method: str, path: str, **kwargs: Any):  # noqa: ANN204
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)


def new_token(engine, name: str = "phone") -> str:  # noqa: ANN001
    with engine.begin() as conn:
        return tokens.create_token(conn, name)


@pytest.fixture
def api(client, engine) -> Api:  # noqa: ANN001
    return Api(client, new_token(engine))


def snapshot(engine) -> dict[str, list[tuple]]:  # noqa: ANN001
    """Every content row (tokens excluded: using one stamps last_used_at)."""
    with engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in TABLES}


def count(engine, model) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def tags_of(engine, bookmark_id: int) -> list[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return sorted(conn.execute(select(Tag.name).join(BookmarkTag, BookmarkTag.tag_id == Tag.id)
                                   .where(BookmarkTag.bookmark_id == bookmark_id)).scalars())


def relative(url: str) -> str:
    assert url.startswith(BASE_URL + "/api/"), url
    return url[len(BASE_URL):]


# --- authentication ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "", "Basic b3duZXI6cGFzc3dvcmQ=", "Bearer", "Bearer ",
                                    "Bearer lb_not-a-real-token", "Token {token}", "Bearer {token} extra"])
def test_requests_without_a_valid_bearer_token_get_401(client, engine, header):
    token = new_token(engine)
    headers = {} if header is None else {"Authorization": header.format(token=token)}
    for method, path, kwargs in (("GET", "/api/bookmarks", {}), ("GET", "/api/weeknotes/2026-W47", {}),
                                 ("POST", "/api/bookmarks", {"json": {"url": "https://example.org/"}}),
                                 ("DELETE", "/api/bookmarks/1", {}), ("GET", "/api/no-such-thing", {})):
        response = client.open(path, method=method, headers=headers, **kwargs)
        assert response.status_code == 401, (method, path)
        assert response.is_json and response.get_json()["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(engine, Bookmark) == 0


def test_a_valid_token_works_and_is_stored_only_as_a_hash(client, engine):
    token = new_token(engine)
    response = client.get("/api/bookmarks", headers={"Authorization": f"bearer  {token} "})
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "total": 0, "next": None}
    assert response.headers["Cache-Control"] == "no-store"
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(ApiToken.__table__))]
        row = conn.execute(select(ApiToken.__table__)).one()
    assert not any(token in str(value) for r in rows for value in r)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.last_used_at is not None and row.revoked_at is None


def test_revoked_token_gets_401(client, engine):
    token = new_token(engine)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/bookmarks", headers=headers).status_code == 200
    with engine.begin() as conn:
        tokens.revoke_token(conn, "phone")
    response = client.get("/api/bookmarks", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.get_json()["error"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_tokens_made_and_revoked_with_the_cli(client, engine, runner, config, tmp_path: Path):
    """The CLI reads its own config file, so it gets one naming the test database."""
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[site]\nbase_url = "{BASE_URL}"\n\n[security]\nsecret_key = "{"s" * 40}"\n\n'
                           f'[database]\nurl = "{config.database_url}"\n', encoding="utf-8")
    phone = {"Authorization": f"Bearer {new_token(engine, 'phone')}"}
    created = runner.invoke(main, ["--config", str(config_file), "token", "create", "shortcut"])
    assert created.exit_code == 0, created.output
    shortcut = {"Authorization": f"Bearer {created.output.strip().splitlines()[-1]}"}
    assert client.post("/api/bookmarks", json={"url": "https://example.org/cli"}, headers=shortcut).status_code == 201
    assert client.get("/api/bookmarks", headers=phone).get_json()["total"] == 1
    revoked = runner.invoke(main, ["--config", str(config_file), "token", "revoke", "phone"])
    assert revoked.exit_code == 0, revoked.output
    response = client.get("/api/bookmarks", headers=phone)
    assert response.status_code == 401 and response.is_json
    assert client.get("/api/bookmarks", headers=shortcut).status_code == 200


def test_the_owner_session_cookie_alone_is_refused(owner, engine):
    assert owner.get("/api/bookmarks").status_code == 401
    response = owner.post("/api/bookmarks", json={"url": "https://example.org/"},
                          headers={"X-CSRF-Token": owner.csrf})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert owner.delete("/api/weeknotes/2026-W47", headers={"X-CSRF-Token": owner.csrf}).status_code == 401
    assert count(engine, Bookmark) == 0


def test_wrong_methods_and_unknown_paths_are_json_errors(api):
    wrong = api("POST", "/api/bookmarks/1", json={})
    assert wrong.status_code == 405 and wrong.is_json
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}
    put = api("PUT", "/api/weeknotes", json={})
    assert put.status_code == 405 and "PUT" in put.get_json()["error"]
    for method in ("GET", "POST", "DELETE"):
        missing = api(method, "/api/no-such-thing", json={})
        assert missing.status_code == 404 and missing.get_json()["error"]
    assert api("GET", "/api/bookmarks/12345").status_code == 404
    assert api("GET", "/api/bookmarks/99999999999999999999999").status_code == 404
    assert api("GET", "/api/bookmarks/abc").get_json()["error"]


# --- bookmarks --------------------------------------------------------------------------------------------------

def test_create_bookmark(api, engine):
    response = api("POST", "/api/bookmarks", json={
        "url": "HTTPS://Example.org:443/page?utm_source=feed#top", "title": "  An   example ",
        "annotation": "Worth *reading*.", "quote": "exact words", "tags": ["Python", "web", "python"],
        "visibility": "unlisted"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    bookmark_id = body["id"]
    assert response.headers["Location"] == f"{BASE_URL}/api/bookmarks/{bookmark_id}"
    assert body["url"] == "https://example.org/page"
    assert body["title"] == "An example"
    assert body["annotation"] == "Worth *reading*."
    assert body["annotation_html"].strip() == "<p>Worth <em>reading</em>.</p>"
    assert body["quote"] == "exact words"
    assert body["tags"] == ["python", "web"]
    assert body["visibility"] == "unlisted"
    assert RFC3339_UTC.match(body["created"]) and RFC3339_UTC.match(body["updated"])
    assert body["permalink"] == f"{BASE_URL}/bookmarks/{bookmark_id}"
    with engine.connect() as conn:
        row = conn.execute(select(Bookmark.__table__).where(Bookmark.id == bookmark_id)).one()
    assert (row.url, row.title, row.tags_text, row.visibility) == (
        "https://example.org/page", "An example", "python web", "unlisted")
    assert tags_of(engine, bookmark_id) == ["python", "web"]
    assert api("GET", relative(response.headers["Location"])).get_json() == body


def test_create_accepts_tags_as_text_and_defaults_title_and_visibility(api, engine):
    response = api("POST", "/api/bookmarks", json={"url": "https://example.org/t", "tags": "a b, c"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["tags"] == ["a", "b", "c"]
    assert body["title"] == "https://example.org/t"
    assert body["visibility"] == "public"
    assert tags_of(engine, body["id"]) == ["a", "b", "c"]


def test_default_visibility_comes_from_the_config(database_url):
    app = create_app(make_config(database_url, **{"site.default_visibility": "private"}))
    engine = app.extensions["linkblog"].engine
    try:
        api = Api(app.test_client(), new_token(engine))
        body = api("POST", "/api/bookmarks", json={"url": "https://example.org/p"}).get_json()
        assert body["visibility"] == "private"
        with engine.connect() as conn:
            assert conn.execute(select(Bookmark.visibility)).scalar_one() == "private"
    finally:
        engine.dispose()


def test_saving_a_saved_url_again_is_409_and_changes_nothing(api, engine):
    first = api("POST", "/api/bookmarks", json={"url": "https://example.org/a", "title": "Original"}).get_json()
    before = snapshot(engine)
    response = api("POST", "/api/bookmarks", json={"url": "https://EXAMPLE.org/a?utm_medium=x#frag",
                                                   "title": "Changed", "tags": ["new"]})
    assert response.status_code == 409
    body = response.get_json()
    assert body["id"] == first["id"] and body["url"] == "https://example.org/a"
    assert body["bookmark"] == first and body["error"]
    assert snapshot(engine) == before


LONG = "x" * 501
BAD_BOOKMARKS = [
    ({"url": "ftp://example.org/file"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"title": "no url"}, "url"),
    ({"url": 42}, "url"),
    ({"url": "https://example.org/new", "title": LONG}, "title"),
    ({"url": "https://example.org/new", "title": "bell\x07"}, "title"),
    ({"url": "https://example.org/new", "annotation": "nul\x00byte"}, "annotation"),
    ({"url": "https://example.org/new", "quote": ["a"]}, "quote"),
    ({"url": "https://example.org/new", "visibility": "friends"}, "visibility"),
    ({"url": "https://example.org/new", "visibility": ""}, "visibility"),
    ({"url": "https://example.org/new", "visibility": None}, "visibility"),
    ({"url": "https://example.org/new", "tags": ["two words"]}, "tags"),
    ({"url": "https://example.org/new", "tags": ["ok", 3]}, "tags"),
    ({"url": "https://example.org/new", "tags": {"a": 1}}, "tags"),
    ({"url": "https://example.org/new", "tags": "bad\x01tag"}, "tags"),
    ({"url": "https://example.org/new", "colour": "red"}, "colour"),
    ({"url": "https://example.org/new", "id": 7}, "id"),
]


@pytest.mark.parametrize("data,field", BAD_BOOKMARKS)
def test_invalid_bookmarks_are_400_and_change_nothing(api, engine, make_bookmark, data, field):
    make_bookmark("https://example.org/existing", tags="keep")
    before = snapshot(engine)
    response = api("POST", "/api/bookmarks", json=data)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] and field in body["fields"] and body["fields"][field]
    if field in ("colour", "id"):
        assert field in body["error"]
    assert snapshot(engine) == before


@pytest.mark.parametrize("data,content_type,status", [
    ("{not json", "application/json", 400),
    ('{"url": "https://example.org/"', "application/json", 400),
    ("", "application/json", 400),
    ('["https://example.org/"]', "application/json", 400),
    ('"https://example.org/"', "application/json", 400),
    ("null", "application/json", 400),
    ('{"url": "https://example.org/", "title": NaN}', "application/json", 400),
    (b'{"url": "https://example.org/\xff"}', "application/json", 400),
    ('{"url": "https://example.org/"}', "text/plain", 415),
    ("url=https://example.org/", "application/x-www-form-urlencoded", 415),
    ('{"url": "https://example.org/"}', None, 415),
    ('{"url": "https://example.org/", "annotation": "' + "a" * (3 * 1024 * 1024) + '"}', "application/json", 413),
])
def test_malformed_bodies_get_json_errors(api, engine, data, content_type, status):
    headers = {"Content-Type": content_type} if content_type else {}
    response = api("POST", "/api/bookmarks", data=data, headers=headers)
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"]
    assert count(engine, Bookmark) == 0


def test_list_is_newest_first_with_keyset_pages(api, make_bookmark):
    start = datetime(2026, 3, 1, 9, 30, 15, 123456)
    offsets = [0, 1, 1, 1, 2, 3, 5]  # three bookmarks share a time, so pages must break ties by id
    ids = [make_bookmark(f"https://example.org/{n}", created_at=start + timedelta(hours=h), visibility=v)
           for n, (h, v) in enumerate(zip(offsets, ["public", "private", "followers", "unlisted"] * 2))]
    expected = [i for _, i in sorted(zip(offsets, ids), reverse=True)]
    seen, url, pages = [], "/api/bookmarks?limit=2", 0
    while url:
        response = api("GET", url)
        assert response.status_code == 200
        body = response.get_json()
        assert body["total"] == 7 and len(body["items"]) <= 2
        seen += [item["id"] for item in body["items"]]
        url = relative(body["next"]) if body["next"] else None
        pages += 1
    assert seen == expected and pages == 4
    everything = api("GET", "/api/bookmarks").get_json()
    assert [i["id"] for i in everything["items"]] == expected and everything["next"] is None
    assert {i["visibility"] for i in everything["items"]} == {"public", "private", "followers", "unlisted"}
    assert all(set(i) == {"id", "url", "title", "annotation", "annotation_html", "quote", "tags", "visibility",
                          "toread", "created", "updated", "permalink"} for i in everything["items"])


def test_list_filters_by_tag_and_visibility(api, make_bookmark):
    start = datetime(2026, 3, 1)
    for n in range(5):
        make_bookmark(f"https://example.org/{n}", created_at=start + timedelta(minutes=n),
                      tags="python" if n % 2 == 0 else "web", visibility="private" if n < 2 else "public")
    python = api("GET", "/api/bookmarks?tag=Python&limit=2").get_json()
    assert python["total"] == 3 and len(python["items"]) == 2
    assert all("python" in i["tags"] for i in python["items"])
    assert "tag=" in python["next"] and "limit=2" in python["next"]
    rest = api("GET", relative(python["next"])).get_json()
    assert [i["url"] for i in rest["items"]] == ["https://example.org/0"] and rest["next"] is None
    private = api("GET", "/api/bookmarks?visibility=private").get_json()
    assert private["total"] == 2 and {i["visibility"] for i in private["items"]} == {"private"}
    both = api("GET", "/api/bookmarks?visibility=public&tag=python").get_json()
    assert [i["url"] for i in both["items"]] == ["https://example.org/4", "https://example.org/2"]
    assert api("GET", "/api/bookmarks?tag=nothing-here").get_json() == {"items": [], "total": 0, "next": None}


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=ten", "limit=-1", "before=yesterday",
                                   "before=20260301093015123456w1", "tag=two%20words", "visibility=friends",
                                   "sort=asc", "limit=2&limit=3"])
def test_bad_list_parameters_are_400(api, make_bookmark, query):
    make_bookmark("https://example.org/")
    response = api("GET", f"/api/bookmarks?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_patch_changes_only_the_given_fields(api, engine):
    created = api("POST", "/api/bookmarks", json={
        "url": "https://example.org/p", "title": "Title", "annotation": "Note", "quote": "Q",
        "tags": ["one", "two"], "visibility": "private"}).get_json()
    bookmark_id = created["id"]
    response = api("PATCH", f"/api/bookmarks/{bookmark_id}", json={"title": "Better title"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["title"] == "Better title"
    assert {k: v for k, v in body.items() if k not in ("title", "updated")} == \
        {k: v for k, v in created.items() if k not in ("title", "updated")}
    response = api("PATCH", f"/api/bookmarks/{bookmark_id}", json={"tags": "two three", "visibility": "public",
                                                                   "annotation": "New **note**"})
    body = response.get_json()
    assert body["tags"] == ["two", "three"] and body["visibility"] == "public"
    assert body["annotation_html"].strip() == "<p>New <strong>note</strong></p>"
    with engine.connect() as conn:
        row = conn.execute(select(Bookmark.__table__).where(Bookmark.id == bookmark_id)).one()
        tag_names = sorted(conn.execute(select(Tag.name)).scalars())
    assert (row.url, row.title, row.quote, row.annotation, row.tags_text, row.visibility) == (
        "https://example.org/p", "Better title", "Q", "New **note**", "two three", "public")
    assert tags_of(engine, bookmark_id) == ["three", "two"]
    assert tag_names == ["three", "two"]  # "one" is no longer used anywhere
    assert api("PATCH", f"/api/bookmarks/{bookmark_id}", json={}).get_json() == body


def test_patch_to_another_saved_url_is_409(api, engine, make_bookmark):
    first = make_bookmark("https://example.org/first")
    second = make_bookmark("https://example.org/second")
    before = snapshot(engine)
    response = api("PATCH", f"/api/bookmarks/{second}", json={"url": "https://example.org/first?utm_source=x"})
    assert response.status_code == 409
    body = response.get_json()
    assert body["id"] == first and body["url"] == "https://example.org/first" and body["bookmark"]["id"] == first
    assert snapshot(engine) == before
    moved = api("PATCH", f"/api/bookmarks/{second}", json={"url": "https://example.org/third"})
    assert moved.status_code == 200 and moved.get_json()["url"] == "https://example.org/third"


@pytest.mark.parametrize("data,field", [
    ({"url": "nope"}, "url"), ({"url": None}, "url"), ({"title": LONG}, "title"), ({"tags": ["a b"]}, "tags"),
    ({"visibility": ""}, "visibility"), ({"visibility": "everyone"}, "visibility"), ({"quote": 5}, "quote"),
    ({"created": "2020-01-01T00:00:00Z"}, "created"),
])
def test_invalid_patch_is_400_and_changes_nothing(api, engine, make_bookmark, data, field):
    bookmark_id = make_bookmark("https://example.org/x", tags="keep", visibility="private")
    before = snapshot(engine)
    response = api("PATCH", f"/api/bookmarks/{bookmark_id}", json=data)
    assert response.status_code == 400
    assert field in response.get_json()["fields"]
    assert snapshot(engine) == before


def test_patch_and_delete_of_a_missing_bookmark_are_404(api, engine, make_bookmark):
    bookmark_id = make_bookmark("https://example.org/x")
    before = snapshot(engine)
    assert api("PATCH", f"/api/bookmarks/{bookmark_id + 1}", json={"title": "x"}).status_code == 404
    assert api("DELETE", f"/api/bookmarks/{bookmark_id + 1}").status_code == 404
    assert snapshot(engine) == before


def test_delete_bookmark(api, engine, make_bookmark):
    keep = make_bookmark("https://example.org/keep", tags="shared")
    gone = make_bookmark("https://example.org/gone", tags="shared only-here")
    response = api("DELETE", f"/api/bookmarks/{gone}")
    assert response.status_code == 204 and response.data == b""
    with engine.connect() as conn:
        assert conn.execute(select(Bookmark.id)).scalars().all() == [keep]
        assert sorted(conn.execute(select(Tag.name)).scalars()) == ["shared"]
    assert api("GET", f"/api/bookmarks/{gone}").status_code == 404
    assert api("DELETE", f"/api/bookmarks/{gone}").status_code == 404


# --- weeknotes --------------------------------------------------------------------------------------------------

def test_create_weeknote(api, engine):
    response = api("POST", "/api/weeknotes", json={"week": "2026-W47", "title": "A week",
                                                   "body": "Did *things*.", "visibility": "unlisted"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == f"{BASE_URL}/api/weeknotes/2026-W47"
    assert (body["week"], body["title"], body["body"], body["status"], body["visibility"]) == (
        "2026-W47", "A week", "Did *things*.", "draft", "unlisted")
    assert body["body_html"].strip() == "<p>Did <em>things</em>.</p>"
    assert body["published"] is None
    assert RFC3339_UTC.match(body["created"]) and RFC3339_UTC.match(body["updated"])
    assert body["permalink"] == f"{BASE_URL}/weeknotes/2026-W47"
    with engine.connect() as conn:
        row = conn.execute(select(Weeknote.__table__)).one()
    assert (row.id, row.week, row.title, row.status, row.published_at) == (body["id"], "2026-W47", "A week",
                                                                           "draft", None)
    assert api("GET", "/api/weeknotes/2026-W47").get_json() == body


def test_second_weeknote_for_a_week_is_409(api, engine):
    first = api("POST", "/api/weeknotes", json={"week": "2026-W10", "body": "first"}).get_json()
    before = snapshot(engine)
    response = api("POST", "/api/weeknotes", json={"week": "2026-W10", "body": "second"})
    assert response.status_code == 409
    body = response.get_json()
    assert body["id"] == first["id"] and body["week"] == "2026-W10" and body["weeknote"] == first
    assert snapshot(engine) == before


@pytest.mark.parametrize("data,field", [
    ({"body": "no week"}, "week"), ({"week": "2026-W54"}, "week"), ({"week": "2025-W53"}, "week"),
    ({"week": "2026-47"}, "week"), ({"week": 202647}, "week"),
    ({"week": "2026-W47", "status": "live"}, "status"), ({"week": "2026-W47", "status": None}, "status"),
    ({"week": "2026-W47", "visibility": "friends"}, "visibility"), ({"week": "2026-W47", "title": LONG}, "title"),
    ({"week": "2026-W47", "title": "tab\tin title"}, "title"), ({"week": "2026-W47", "body": "esc\x1b"}, "body"),
    ({"week": "2026-W47", "body": ["x"]}, "body"), ({"week": "2026-W47", "mood": "fine"}, "mood"),
])
def test_invalid_weeknotes_are_400_and_change_nothing(api, engine, data, field):
    api("POST", "/api/weeknotes", json={"week": "2026-W01", "body": "existing"})
    before = snapshot(engine)
    response = api("POST", "/api/weeknotes", json=data)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] and field in body["fields"]
    if data.get("week") == "2026-W54":
        assert "does not exist" in body["fields"]["week"]
    assert snapshot(engine) == before


def test_weeknote_list_is_newest_week_first_with_pages(api, engine):
    for week, status in [("2025-W52", "published"), ("2026-W02", "draft"), ("2026-W01", "published"),
                         ("2026-W40", "draft"), ("2026-W10", "published")]:
        assert api("POST", "/api/weeknotes", json={"week": week, "status": status}).status_code == 201
    weeks, url = [], "/api/weeknotes?limit=2"
    while url:
        body = api("GET", url).get_json()
        assert body["total"] == 5
        weeks += [item["week"] for item in body["items"]]
        url = relative(body["next"]) if body["next"] else None
    assert weeks == ["2026-W40", "2026-W10", "2026-W02", "2026-W01", "2025-W52"]
    older = api("GET", "/api/weeknotes?before=2026-W10").get_json()
    assert [i["week"] for i in older["items"]] == ["2026-W02", "2026-W01", "2025-W52"]
    published = api("GET", "/api/weeknotes?status=published").get_json()
    assert [i["week"] for i in published["items"]] == ["2026-W10", "2026-W01", "2025-W52"]
    assert published["total"] == 3 and all(i["published"] for i in published["items"])
    for query in ("before=2026-W54", "before=soon", "limit=0", "status=live", "page=2"):
        response = api("GET", f"/api/weeknotes?{query}")
        assert response.status_code == 400 and response.get_json()["error"]


def test_weeknote_get_patch_delete(api, engine):
    api("POST", "/api/weeknotes", json={"week": "2026-W47", "title": "Draft", "body": "text"})
    api("POST", "/api/weeknotes", json={"week": "2026-W48", "body": "next week"})
    missing = api("GET", "/api/weeknotes/2026-W54")
    assert missing.status_code == 404 and "does not exist" in missing.get_json()["error"]
    assert api("GET", "/api/weeknotes/2026-W46").status_code == 404
    assert api("PATCH", "/api/weeknotes/2026-W46", json={"title": "x"}).status_code == 404

    published = api("PATCH", "/api/weeknotes/2026-W47", json={"status": "published"})
    assert published.status_code == 200
    body = published.get_json()
    assert (body["status"], body["title"], body["body"]) == ("published", "Draft", "text")
    assert RFC3339_UTC.match(body["published"])
    with engine.connect() as conn:
        row = conn.execute(select(Weeknote.__table__).where(Weeknote.week == "2026-W47")).one()
    assert row.status == "published" and row.published_at is not None and row.title == "Draft"

    before = snapshot(engine)
    clash = api("PATCH", "/api/weeknotes/2026-W47", json={"week": "2026-W48"})
    assert clash.status_code == 409 and clash.get_json()["week"] == "2026-W48"
    bad = api("PATCH", "/api/weeknotes/2026-W47", json={"status": "gone", "body": 3})
    assert bad.status_code == 400 and set(bad.get_json()["fields"]) == {"status", "body"}
    assert snapshot(engine) == before

    moved = api("PATCH", "/api/weeknotes/2026-W47", json={"week": "2026-W49", "body": "moved"})
    assert moved.status_code == 200 and moved.get_json()["permalink"] == f"{BASE_URL}/weeknotes/2026-W49"
    assert api("GET", "/api/weeknotes/2026-W47").status_code == 404
    assert api("GET", "/api/weeknotes/2026-W49").get_json()["body"] == "moved"

    deleted = api("DELETE", "/api/weeknotes/2026-W49")
    assert deleted.status_code == 204
    with engine.connect() as conn:
        assert conn.execute(select(Weeknote.week)).scalars().all() == ["2026-W48"]
    assert api("DELETE", "/api/weeknotes/2026-W49").status_code == 404


def test_toread_field_and_filter(api, engine):
    made = api("POST", "/api/bookmarks", json={"url": "https://later.example/", "toread": True})
    assert made.status_code == 201 and made.get_json()["toread"] is True
    other = api("POST", "/api/bookmarks", json={"url": "https://now.example/"})
    assert other.get_json()["toread"] is False
    listed = api("GET", "/api/bookmarks?toread=true").get_json()
    assert [item["url"] for item in listed["items"]] == ["https://later.example/"] and listed["total"] == 1
    assert api("GET", "/api/bookmarks?toread=maybe").status_code == 400
    bad = api("PATCH", f"/api/bookmarks/{made.get_json()['id']}", json={"toread": "yes"})
    assert bad.status_code == 400 and "toread" in bad.get_json()["fields"]
    done = api("PATCH", f"/api/bookmarks/{made.get_json()['id']}", json={"toread": False})
    assert done.status_code == 200 and done.get_json()["toread"] is False
    assert api("GET", "/api/bookmarks?toread=true").get_json()["total"] == 0


def test_publishing_a_weeknote_that_links_a_private_bookmark_needs_reveal(api, client, engine, make_bookmark):
    make_bookmark("https://private.example/secret", "Secret", visibility="private")
    note = {"week": "2026-W47", "body": "See [this](https://private.example/secret).", "status": "published"}
    refused = api("POST", "/api/weeknotes", json=note)
    assert refused.status_code == 400
    assert "https://private.example/secret" in refused.get_json()["fields"]["reveal"]
    assert count(engine, Weeknote) == 0
    assert api("POST", "/api/weeknotes", json={**note, "status": "draft"}).status_code == 201
    assert api("PATCH", "/api/weeknotes/2026-W47", json={"status": "published"}).status_code == 400
    assert client.get("/weeknotes/2026-W47").status_code == 404
    assert api("PATCH", "/api/weeknotes/2026-W47", json={"status": "published", "reveal": True}).status_code == 200
    assert "https://private.example/secret" in client.get("/weeknotes/2026-W47").get_data(as_text=True)


# --- every bad field at once (issue 10) -----------------------------------------------------------------


def test_the_api_reports_every_bad_field_at_once_even_with_a_wrong_type(api, engine):
    response = api("POST", "/api/bookmarks", json={"url": "ftp://example.org/x", "title": 5, "tags": "fine -bad",
                                                   "visibility": "everyone"})
    assert response.status_code == 400
    fields = response.get_json()["fields"]
    assert set(fields) == {"url", "title", "tags", "visibility"}, fields
    assert "Only http:// and https://" in fields["url"] and "must be a string" in fields["title"]
    assert "must start with a letter" in fields["tags"]
    assert count(engine, Bookmark) == 0


def test_the_api_patch_reports_every_bad_field_at_once(api, make_bookmark):
    bookmark_id = make_bookmark("https://example.org/a", "A")
    response = api("PATCH", f"/api/bookmarks/{bookmark_id}", json={"toread": "yes", "url": "nope", "tags": ["a/b"]})
    assert response.status_code == 400
    assert set(response.get_json()["fields"]) == {"toread", "url", "tags"}


def test_the_weeknote_api_reports_every_bad_field_at_once(api, engine):
    response = api("POST", "/api/weeknotes", json={"week": "2026-W99", "title": 5, "status": "done",
                                                   "body": "x" * 100_001})
    assert response.status_code == 400
    assert set(response.get_json()["fields"]) == {"week", "title", "status", "body"}
    created = api("POST", "/api/weeknotes", json={"week": "2026-W49"})
    assert created.status_code == 201
    patched = api("PATCH", "/api/weeknotes/2026-W49", json={"reveal": "yes", "visibility": "everyone"})
    assert patched.status_code == 400 and set(patched.get_json()["fields"]) == {"reveal", "visibility"}
