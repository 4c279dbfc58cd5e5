"""The Pinboard-compatible API (/v1/) through the Flask test client, on both databases: authentication and
where a token may travel, each method's parameters and documents (XML and ``format=json`` as ``text/json``),
and bad input answered with the ``result_code`` Pinboard apps read, changing nothing."""
from __future__ import annotations

import base64
import hashlib
import json
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
from sqlalchemy import func, select

from linkblog import tokens
from linkblog.models import BOOKMARKS, LOGIN_FAILURES, OUTBOX_ACTIVITIES, OWNER_TABLE, TAGS

from tests.support.app import OWNER, PASSWORD, csrf_of


@pytest.fixture
def secret(engine) -> str:
    with engine.begin() as conn:
        return tokens.create_token(conn, "pinboard-app", pinboard=True)


@pytest.fixture
def v1(client, secret):
    """GET /v1/METHOD with the Pinboard token in the query string and ``format=json``; returns the response."""
    def call(method: str, fmt: str | None = "json", **params: str):
        query = {"auth_token": f"{OWNER}:{secret}", **params}
        if fmt:
            query["format"] = fmt
        return client.get(f"/v1/{method}", query_string=query)

    return call


def _json(response) -> object:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/json"
    return json.loads(response.get_data(as_text=True))


def _xml(response) -> ET.Element:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).startswith('<?xml version="1.0" encoding="UTF-8" ?>')
    return ET.fromstring(response.get_data())


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _bookmark(engine, url: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(select(BOOKMARKS).where(BOOKMARKS.c.url == url)).mappings().first()
    return dict(row) if row else None


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- authentication ---------------------------------------------------------------------------------------------

def test_without_credentials_the_answer_is_401_with_a_basic_challenge(client):
    response = client.get("/v1/posts/update")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="API"'


def test_query_token_must_be_a_pinboard_token_of_the_owner(client, engine, secret):
    with engine.begin() as conn:
        plain = tokens.create_token(conn, "script")
    assert client.get("/v1/posts/update", query_string={"auth_token": f"{OWNER}:{secret}"}).status_code == 200
    for refused in (f"{OWNER}:{plain}", f"someone:{secret}", secret, f"{OWNER}:nope", f"{OWNER}:"):
        assert client.get("/v1/posts/update", query_string={"auth_token": refused}).status_code == 401, refused


def test_revoked_pinboard_token_is_refused(client, engine, secret):
    with engine.begin() as conn:
        tokens.revoke_token(conn, "pinboard-app")
    assert client.get("/v1/posts/update", query_string={"auth_token": f"{OWNER}:{secret}"}).status_code == 401


def test_token_in_a_query_string_is_refused_everywhere_else(client, engine, secret):
    """Even a Pinboard token: the JSON API takes a token from the Authorization header only."""
    with engine.begin() as conn:
        plain = tokens.create_token(conn, "script")
    for token in (secret, plain):
        for name in ("auth_token", "access_token", "token"):
            response = client.get("/api/bookmarks", query_string={name: token})
            assert response.status_code == 401, (name, response.data)
        assert client.get("/api/bookmarks", query_string={"auth_token": f"{OWNER}:{token}"}).status_code == 401
    assert client.get("/api/bookmarks", headers={"Authorization": f"Bearer {plain}"}).status_code == 200


def test_basic_auth_with_a_token_or_the_password(client, engine):
    with engine.begin() as conn:
        plain = tokens.create_token(conn, "script")  # a header is not logged: any live token will do
    assert client.get("/v1/posts/update", headers=_basic(OWNER, plain)).status_code == 200
    assert client.get("/v1/posts/update", headers=_basic(OWNER, PASSWORD)).status_code == 200
    assert client.get("/v1/posts/update", headers=_basic("someone", PASSWORD)).status_code == 401
    assert client.get("/v1/posts/update", headers=_basic(OWNER, "wrong password")).status_code == 401


def test_wrong_basic_passwords_meet_the_login_rate_limit(app, client, engine):
    attempts = app.extensions["linkblog"].config.get("security", "login_attempts")
    for _ in range(attempts):
        assert client.get("/v1/posts/update", headers=_basic(OWNER, "wrong password")).status_code == 401
    assert _count(engine, LOGIN_FAILURES) == attempts
    limited = client.get("/v1/posts/update", headers=_basic(OWNER, PASSWORD))
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    # The login form shares the count: it is paused too.
    form = {"username": OWNER, "password": PASSWORD, "csrf_token": csrf_of(client)}
    assert client.post("/login", data=form).status_code == 429


def test_api_token_returns_the_token_in_use_or_trades_the_password_for_a_new_one(client, engine, v1, secret):
    assert _json(v1("user/api_token")) == {"result": secret}
    new = _json(client.get("/v1/user/api_token", query_string={"format": "json"},
                           headers=_basic(OWNER, PASSWORD)))["result"]
    assert new != secret
    answer = client.get("/v1/posts/update", query_string={"auth_token": f"{OWNER}:{new}"})
    assert answer.status_code == 200  # a Pinboard token: it may travel in the query string
    with engine.connect() as conn:
        names = [t["name"] for t in tokens.list_tokens(conn) if t["query_string_allowed"]]
    assert len(names) == 2 and any(n.startswith("pinboard-app-") for n in names)


def test_requests_a_browser_sends_for_another_site_are_refused(client, engine, v1, secret):
    url = "https://example.org/csrf"
    query = {"auth_token": f"{OWNER}:{secret}", "url": url}
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "https://evil.example"}, {"Origin": "null"}):
        assert client.get("/v1/posts/add", query_string=query, headers=headers).status_code == 403, headers
    assert _bookmark(engine, url) is None
    ours = client.get("/v1/posts/add", query_string=query,
                      headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://links.test"})
    assert ours.status_code == 200 and _bookmark(engine, url) is not None


def test_the_session_cookie_counts_for_nothing(owner):
    assert owner.get("/v1/posts/update").status_code == 401


# --- posts/add ----------------------------------------------------------------------------------------------------

def test_add_maps_every_pinboard_field(v1, engine):
    answer = _json(v1("posts/add", url="https://example.org/a", description="A page", extended="Some *notes*",
                      tags="python web", shared="no", toread="yes", dt="2026-11-01T10:00:00Z"))
    assert answer == {"result_code": "done"}
    row = _bookmark(engine, "https://example.org/a")
    assert (row["title"], row["annotation"], row["tags_text"], row["visibility"], row["toread"]) == (
        "A page", "Some *notes*", "python web", "private", True)
    assert "<em>notes</em>" in row["annotation_html"]
    assert row["created_at"] == datetime(2026, 11, 1, 10, 0)


def test_add_xml_answer_and_defaults(v1, engine):
    root = _xml(v1("posts/add", fmt=None, url="https://example.org/b", description="B"))
    assert (root.tag, root.attrib, root.text) == ("result", {"code": "done"}, None)
    row = _bookmark(engine, "https://example.org/b")
    assert (row["visibility"], row["toread"], row["tags_text"]) == ("public", False, "")


def test_a_shared_bookmark_is_federated_and_a_private_one_is_not(v1, engine):
    before = _count(engine, OUTBOX_ACTIVITIES)
    _json(v1("posts/add", url="https://example.org/public", description="P", shared="yes"))
    assert _count(engine, OUTBOX_ACTIVITIES) == before + 1
    _json(v1("posts/add", url="https://example.org/private", description="Q", shared="no"))
    assert _count(engine, OUTBOX_ACTIVITIES) == before + 1


@pytest.mark.parametrize(("params", "code"), [
    ({"description": "no url"}, "missing url"),
    ({"url": "", "description": "empty url"}, "missing url"),
    ({"url": "ftp://example.org/x"}, "Only http:// and https:// addresses can be saved."),
    ({"url": "https://example.org/x", "shared": "maybe"}, "shared must be yes or no"),
    ({"url": "https://example.org/x", "toread": "true"}, "toread must be yes or no"),
    ({"url": "https://example.org/x", "replace": "2"}, "replace must be yes or no"),
    ({"url": "https://example.org/x", "dt": "yesterday"}, "dt must be a UTC time like 2026-12-07T10:00:00Z"),
    ({"url": "https://example.org/x", "dt": "2026-13-01T00:00:00Z"}, "dt must be a UTC time like 2026-12-07T10:00:00Z"),
    ({"url": "https://example.org/x", "dt": "2100-01-02T00:00:00Z"}, "dt must be between the years 1 and 2100"),
])
def test_bad_add_answers_a_result_code_and_changes_nothing(v1, engine, params, code):
    before = _count(engine, BOOKMARKS)
    assert _json(v1("posts/add", **params)) == {"result_code": code}
    assert _count(engine, BOOKMARKS) == before


def test_a_tag_that_breaks_the_tag_rules_is_refused_with_the_rule(v1, engine):
    answer = _json(v1("posts/add", url="https://example.org/t", tags="ok .private"))
    assert answer["result_code"].startswith("The tag '.private' must start with a letter, a digit or '_'")
    assert _bookmark(engine, "https://example.org/t") is None
    xml = _xml(v1("posts/add", fmt=None, url="https://example.org/t", tags="a" * 65))
    assert "longer than 64 characters" in xml.attrib["code"]


def test_tags_are_lower_cased_and_commas_also_separate(v1, engine):
    _json(v1("posts/add", url="https://example.org/c", tags="Python,web  web"))
    assert _bookmark(engine, "https://example.org/c")["tags_text"] == "python web"


def test_replace_no_refuses_an_existing_url(v1, engine):
    _json(v1("posts/add", url="https://example.org/r", description="First"))
    assert _json(v1("posts/add", url="https://example.org/r", description="Second", replace="no")) == {
        "result_code": "item already exists"}
    assert _bookmark(engine, "https://example.org/r")["title"] == "First"


def test_replace_overwrites_but_keeps_quote_visibility_and_saved_time(v1, engine, make_bookmark):
    made = make_bookmark("https://example.org/q", "Old", annotation="old notes", quote="A quote", tags="a b",
                         visibility="unlisted", created_at=datetime(2025, 1, 2, 3, 4, 5))
    _json(v1("posts/add", url="https://example.org/q", description="New", extended="new notes", tags="c"))
    row = _bookmark(engine, "https://example.org/q")
    assert (row["id"], row["title"], row["annotation"], row["quote"], row["tags_text"], row["visibility"]) == (
        made, "New", "new notes", "A quote", "c", "unlisted")
    assert row["created_at"] == datetime(2025, 1, 2, 3, 4, 5)
    _json(v1("posts/add", url="https://example.org/q", description="New", shared="no"))
    assert _bookmark(engine, "https://example.org/q")["visibility"] == "unlisted"  # not public: still fits "no"
    _json(v1("posts/add", url="https://example.org/q", description="New", shared="yes",
             dt="2024-06-01T12:00:00Z"))
    row = _bookmark(engine, "https://example.org/q")
    assert (row["visibility"], row["created_at"]) == ("public", datetime(2024, 6, 1, 12, 0))
    _json(v1("posts/add", url="https://example.org/q", description="New", shared="no"))
    assert _bookmark(engine, "https://example.org/q")["visibility"] == "private"


def test_a_time_far_in_the_future_is_taken_as_now(v1, engine):
    _json(v1("posts/add", url="https://example.org/f", dt="2099-01-01T00:00:00Z"))
    assert _bookmark(engine, "https://example.org/f")["created_at"].year < 2099


# --- reading ------------------------------------------------------------------------------------------------------

def test_get_by_url_in_json_and_xml(v1, make_bookmark):
    make_bookmark("https://example.org/g", "Gee", annotation="notes", tags="x y", visibility="followers",
                  toread=True, created_at=datetime(2026, 12, 7, 10, 0))
    answer = _json(v1("posts/get", url="https://EXAMPLE.org/g"))
    assert answer["user"] == OWNER and answer["date"] == "2026-12-07T10:00:00Z"
    [post] = answer["posts"]
    assert {k: post[k] for k in ("href", "description", "extended", "tags", "shared", "toread", "time")} == {
        "href": "https://example.org/g", "description": "Gee", "extended": "notes", "tags": "x y",
        "shared": "no", "toread": "yes", "time": "2026-12-07T10:00:00Z"}
    assert post["hash"] == hashlib.md5(b"https://example.org/g").hexdigest()
    assert len(post["meta"]) == 32
    root = _xml(v1("posts/get", fmt=None, url="https://example.org/g"))
    assert root.tag == "posts" and root.attrib["user"] == OWNER
    [element] = list(root)
    assert element.tag == "post" and element.attrib["tag"] == "x y" and element.attrib["href"] == post["href"]
    assert element.attrib["meta"] == post["meta"]


def test_meta_changes_with_the_bookmark(v1, make_bookmark, engine):
    make_bookmark("https://example.org/m", "M")
    first = _json(v1("posts/get", url="https://example.org/m"))["posts"][0]["meta"]
    _json(v1("posts/add", url="https://example.org/m", description="M", toread="yes"))
    assert _json(v1("posts/get", url="https://example.org/m"))["posts"][0]["meta"] != first


def test_get_by_day_newest_day_and_tags(v1, make_bookmark):
    make_bookmark("https://example.org/d1", tags="a b", created_at=datetime(2026, 12, 5, 9))
    make_bookmark("https://example.org/d2", tags="a", created_at=datetime(2026, 12, 5, 23, 59))
    make_bookmark("https://example.org/d3", tags="a", created_at=datetime(2026, 12, 6, 0, 0))
    hrefs = lambda answer: [p["href"] for p in answer["posts"]]  # noqa: E731
    assert hrefs(_json(v1("posts/get", dt="2026-12-05"))) == ["https://example.org/d2", "https://example.org/d1"]
    assert hrefs(_json(v1("posts/get"))) == ["https://example.org/d3"]  # the newest day
    assert hrefs(_json(v1("posts/get", tag="b"))) == ["https://example.org/d1"]  # the newest day with tag b
    assert hrefs(_json(v1("posts/get", dt="2026-12-05", tag="a b"))) == ["https://example.org/d1"]
    assert hrefs(_json(v1("posts/get", dt="2026-12-04"))) == []
    assert hrefs(_json(v1("posts/get", url="https://example.org/none"))) == []
    assert hrefs(_json(v1("posts/get", tag=".cannot-be-a-tag"))) == []
    assert _json(v1("posts/get", dt="05/12/2026")) == {"result_code": "dt must be a date like 2026-12-07"}
    assert _json(v1("posts/get", tag="a b c d")) == {"result_code": "filter by at most 3 tags"}


def test_recent_counts_and_tag_filter(v1, make_bookmark):
    for n in range(20):
        make_bookmark(f"https://example.org/r{n}", tags="even" if n % 2 == 0 else "odd",
                      created_at=datetime(2026, 1, 1, 0, n))
    answer = _json(v1("posts/recent"))
    assert len(answer["posts"]) == 15 and answer["posts"][0]["href"] == "https://example.org/r19"
    assert answer["date"] == "2026-01-01T00:19:00Z"
    assert [p["href"] for p in _json(v1("posts/recent", count="2", tag="even"))["posts"]] == [
        "https://example.org/r18", "https://example.org/r16"]
    assert len(_json(v1("posts/recent", count="1000"))["posts"]) == 20  # capped at 100
    assert _json(v1("posts/recent", count="-1")) == {"result_code": "count must be a whole number"}


def test_all_with_start_results_and_time_range(v1, make_bookmark):
    for n in range(5):
        make_bookmark(f"https://example.org/a{n}", created_at=datetime(2026, 3, n + 1))
    everything = _json(v1("posts/all"))
    assert isinstance(everything, list) and [p["href"][-2:] for p in everything] == ["a4", "a3", "a2", "a1", "a0"]
    assert [p["href"][-2:] for p in _json(v1("posts/all", start="1", results="2"))] == ["a3", "a2"]
    ranged = _json(v1("posts/all", fromdt="2026-03-02T00:00:00Z", todt="2026-03-04T00:00:00Z"))
    assert [p["href"][-2:] for p in ranged] == ["a3", "a2", "a1"]
    root = _xml(v1("posts/all", fmt=None, meta="1"))
    assert root.tag == "posts" and len(root) == 5


def test_dates_counts_per_utc_day(v1, make_bookmark):
    make_bookmark("https://example.org/x1", tags="t", created_at=datetime(2026, 12, 5, 1))
    make_bookmark("https://example.org/x2", created_at=datetime(2026, 12, 5, 23))
    make_bookmark("https://example.org/x3", tags="t", created_at=datetime(2026, 12, 7, 10))
    assert _json(v1("posts/dates")) == {"user": OWNER, "tag": "", "dates": {"2026-12-07": "1", "2026-12-05": "2"}}
    assert _json(v1("posts/dates", tag="t"))["dates"] == {"2026-12-07": "1", "2026-12-05": "1"}
    root = _xml(v1("posts/dates", fmt=None))
    assert [(d.attrib["date"], d.attrib["count"]) for d in root] == [("2026-12-07", "1"), ("2026-12-05", "2")]


def test_update_time_moves_on_add_change_toread_and_delete(v1, make_bookmark, engine):
    stamps = []

    def update_time() -> str:
        stamps.append(_json(v1("posts/update"))["update_time"])
        return stamps[-1]

    assert update_time() == "1970-01-01T00:00:00Z"  # nothing saved yet
    make_bookmark.row("https://example.org/u", created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1))
    assert update_time() == "2026-01-01T00:00:00Z"
    root = _xml(v1("posts/update", fmt=None))
    assert root.tag == "update" and root.attrib["time"] == "2026-01-01T00:00:00Z"
    _json(v1("posts/add", url="https://example.org/u", description="A link", toread="yes"))  # to-read only
    assert update_time() > "2026-01-01T00:00:00Z"
    with engine.begin() as conn:  # back to the old times: only the delete can move them on
        conn.execute(BOOKMARKS.update().values(updated_at=datetime(2026, 1, 1)))
        conn.execute(OWNER_TABLE.update().values(bookmarks_changed_at=None))
    assert update_time() == "2026-01-01T00:00:00Z"
    _json(v1("posts/delete", url="https://example.org/u"))
    assert update_time() > "2026-01-01T00:00:00Z"


def test_suggest_recommends_the_owners_tags_for_the_url_and_its_host(v1, make_bookmark):
    make_bookmark("https://example.org/s1", tags="python web")
    make_bookmark("https://example.org/s2", tags="web")
    make_bookmark("https://other.example/x", tags="elsewhere")
    assert _json(v1("posts/suggest", url="https://example.org/new")) == [
        {"popular": []}, {"recommended": ["web", "python"]}]
    assert _json(v1("posts/suggest", url="https://example.org/s1"))[1]["recommended"] == ["python", "web"]
    root = _xml(v1("posts/suggest", fmt=None, url="https://example.org/new"))
    assert root.tag == "suggested" and [(e.tag, e.text) for e in root] == [("recommended", "web"),
                                                                           ("recommended", "python")]
    assert _json(v1("posts/suggest")) == {"result_code": "missing url"}


# --- delete, tags, notes ------------------------------------------------------------------------------------------

def test_delete_and_item_not_found(v1, make_bookmark, engine):
    make_bookmark("https://example.org/del", visibility="public", federate=True)
    before = _count(engine, OUTBOX_ACTIVITIES)
    assert _json(v1("posts/delete", url="https://example.org/del")) == {"result_code": "done"}
    assert _bookmark(engine, "https://example.org/del") is None
    assert _count(engine, OUTBOX_ACTIVITIES) == before + 1  # followers are sent the Delete
    assert _json(v1("posts/delete", url="https://example.org/del")) == {"result_code": "item not found"}
    assert _json(v1("posts/delete", url="not a url at all")) == {"result_code": "item not found"}
    assert _json(v1("posts/delete")) == {"result_code": "missing url"}
    assert _xml(v1("posts/delete", fmt=None, url="https://example.org/del")).attrib == {"code": "item not found"}


def test_tags_get_delete_rename(v1, make_bookmark, engine):
    make_bookmark("https://example.org/t1", tags="python web")
    make_bookmark("https://example.org/t2", tags="web old")
    assert _json(v1("tags/get")) == {"old": "1", "python": "1", "web": "2"}
    root = _xml(v1("tags/get", fmt=None))
    assert [(t.attrib["tag"], t.attrib["count"]) for t in root] == [("old", "1"), ("python", "1"), ("web", "2")]

    assert _json(v1("tags/rename", old="old", new="python")) == {"result": "done"}  # folded into python
    assert _bookmark(engine, "https://example.org/t2")["tags_text"] == "web python"
    assert _json(v1("tags/delete", tag="web")) == {"result": "done"}
    assert _bookmark(engine, "https://example.org/t1")["tags_text"] == "python"
    assert _json(v1("tags/get")) == {"python": "2"}
    root = _xml(v1("tags/delete", fmt=None, tag="python"))
    assert (root.tag, root.text) == ("result", "done")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(TAGS)).scalar_one() == 0


def test_bad_tag_changes_answer_a_result_and_change_nothing(v1, make_bookmark, engine):
    make_bookmark("https://example.org/b1", tags="keep")
    assert _json(v1("tags/delete", tag="absent")) == {"result": "item not found"}
    assert _json(v1("tags/delete")) == {"result": "missing tag"}
    assert _json(v1("tags/rename", old="keep")) == {"result": "missing new"}
    assert _json(v1("tags/rename", old="absent", new="other")) == {"result": "item not found"}
    assert _json(v1("tags/rename", old="keep", new="has space"))["result"].startswith("The tag 'has space' contains")
    assert _bookmark(engine, "https://example.org/b1")["tags_text"] == "keep"


def test_notes_list_is_empty(v1):
    assert _json(v1("notes/list")) == {"count": 0, "notes": []}
    assert _xml(v1("notes/list", fmt=None)).attrib == {"count": "0"}


def test_unknown_methods_are_404_after_authentication(client, v1):
    assert client.get("/v1/posts/nothing").status_code == 401
    assert v1("posts/nothing").status_code == 404
    assert v1("notes/ABC123").status_code == 404


def test_answers_are_not_cached(v1):
    assert v1("posts/update").headers["Cache-Control"] == "no-store"


def test_a_post_with_a_form_body_is_read_like_a_get(client, engine, secret):
    """Long ``extended`` texts fit a form body better than a URL; the token stays in the query string."""
    response = client.post("/v1/posts/add", query_string={"auth_token": f"{OWNER}:{secret}", "format": "json"},
                           data={"url": "https://example.org/form", "description": "Form", "extended": "x" * 5000})
    assert _json(response) == {"result_code": "done"}
    assert _bookmark(engine, "https://example.org/form")["annotation"] == "x" * 5000
    assert client.put("/v1/posts/add", query_string={"auth_token": f"{OWNER}:{secret}"}).status_code == 405


def test_all_is_sent_in_pieces_and_is_still_one_document(client, secret, make_bookmark):
    """posts/all is written as it is read (never held whole): many pieces, one valid JSON list or XML."""
    for n in range(60):
        make_bookmark.row(f"https://example.org/big/{n}", annotation="long <&> \"text\" " * 120,
                          tags_text="big", created_at=datetime(2026, 1, 1, 0, n))
    for fmt in ("json", "xml"):
        response = client.get("/v1/posts/all", query_string={"auth_token": f"{OWNER}:{secret}", "format": fmt},
                              buffered=False)
        assert response.is_streamed
        pieces = list(response.response)
        assert len(pieces) >= 2, fmt
        body = b"".join(p if isinstance(p, bytes) else p.encode() for p in pieces)
        if fmt == "json":
            posts = json.loads(body)
            assert [p["href"] for p in posts][:2] == ["https://example.org/big/59", "https://example.org/big/58"]
        else:
            posts = list(ET.fromstring(body))
            assert posts[0].attrib["extended"].startswith('long <&> "text"')
        assert len(posts) == 60
