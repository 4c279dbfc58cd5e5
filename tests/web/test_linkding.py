"""linkding's REST API through the Flask test client, on SQLite and PostgreSQL: each endpoint's edge cases, the
error shapes linkding clients expect (and that bad input changes nothing), the token rules, and the paths it
shares with linkblog's own API."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from linkblog import tokens
from linkblog.models import BOOKMARKS, OUTBOX_ACTIVITIES, TAGS

from tests.support.app import BASE_URL


class Linkding:
    """The test client with ``Authorization: Token <key>`` on every request, as linkding's clients send it."""

    def __init__(self, client: Any, token: str):
        self.client, self.token = client, token

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Token {self.token}", **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)


def new_token(engine: Any, name: str = "linkding") -> str:
    with engine.begin() as conn:
        return tokens.create_token(conn, name)


@pytest.fixture
def ld(client, engine) -> Linkding:  # noqa: ANN001
    return Linkding(client, new_token(engine))


def rows(engine: Any) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(BOOKMARKS).order_by(BOOKMARKS.c.id))]


def count(engine: Any, table: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def create(ld: Linkding, **fields: Any) -> dict[str, Any]:
    response = ld("POST", "/api/bookmarks/", json={"url": "https://example.org/", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [b["id"] for b in response.get_json()["results"]]


# --- tokens, CSRF and the paths shared with linkblog's own API ----------------------------------------------------

@pytest.mark.parametrize(("header", "detail"), [
    (None, "Authentication credentials were not provided."),
    ("Basic b3duZXI6cGFzc3dvcmQ=", "Authentication credentials were not provided."),
    ("Token", "Invalid token header. No credentials provided."),
    ("Token {token} extra", "Invalid token header. Token string should not contain spaces."),
    ("Token lb_not-a-real-token", "Invalid token."),
])
def test_linkdings_401s_word_for_word(client, engine, header, detail):
    token = new_token(engine)
    headers = {} if header is None else {"Authorization": header.format(token=token)}
    for method, path in (("GET", "/api/bookmarks/"), ("POST", "/api/bookmarks/"), ("GET", "/api/tags/"),
                         ("GET", "/api/user/profile/"), ("DELETE", "/api/bookmarks/1/")):
        response = client.open(path, method=method, headers=headers, json={"url": "https://example.org/"})
        assert response.status_code == 401, (method, path)
        assert response.get_json() == {"detail": detail}
        assert response.headers["WWW-Authenticate"] == "Token"
    assert count(engine, BOOKMARKS) == 0


def test_token_and_bearer_both_work_and_a_revoked_token_stops_working(client, engine):
    token = new_token(engine)
    assert client.get("/api/bookmarks/", headers={"Authorization": f"Token {token}"}).status_code == 200
    assert client.get("/api/bookmarks/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with engine.begin() as conn:
        tokens.revoke_token(conn, "linkding")
    response = client.get("/api/bookmarks/", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 401 and response.get_json() == {"detail": "Invalid token."}


def test_the_owners_session_cookie_authenticates_nothing_here(owner, engine):
    """A logged-in browser cannot be made to write through this API from another site: no token, no write."""
    for headers in ({}, {"X-CSRF-Token": owner.csrf}):
        response = owner.post("/api/bookmarks/", json={"url": "https://example.org/"}, headers=headers)
        assert response.status_code == 401
        response = owner.post("/api/bookmarks/", data={"url": "https://example.org/", "csrf_token": owner.csrf})
        assert response.status_code == 401
    assert count(engine, BOOKMARKS) == 0


def test_linkblogs_api_and_linkdings_share_a_prefix_and_neither_redirects_to_the_other(client, engine):
    token = new_token(engine)
    bearer, linkding = {"Authorization": f"Bearer {token}"}, {"Authorization": f"Token {token}"}
    ours = client.post("/api/bookmarks", json={"url": "https://example.org/ours"}, headers=bearer)
    theirs = client.post("/api/bookmarks/", json={"url": "https://example.org/theirs"}, headers=linkding)
    assert ours.status_code == 201 and "annotation" in ours.get_json()   # linkblog's shape
    assert theirs.status_code == 201 and "notes" in theirs.get_json()   # linkding's shape
    listing = client.get("/api/bookmarks", headers=bearer)
    assert listing.status_code == 200 and set(listing.get_json()) == {"items", "total", "next"}
    listing = client.get("/api/bookmarks/", headers=linkding)
    assert listing.status_code == 200 and set(listing.get_json()) == {"count", "next", "previous", "results"}
    one = ours.get_json()["id"]
    assert client.get(f"/api/bookmarks/{one}", headers=bearer).get_json()["annotation"] == ""
    assert client.get(f"/api/bookmarks/{one}/", headers=linkding).get_json()["notes"] == ""
    # linkblog's own API stays Bearer-only, as it was.
    assert client.get("/api/bookmarks", headers=linkding).status_code == 401


def test_linkding_paths_we_do_not_serve_are_404_not_a_token_error(ld):
    for path in ("/api/bundles/", "/api/bundles/3/", "/api/bookmarks/1/assets/", "/api/bookmarks/singlefile/",
                 "/api/tags/x/", "/api/user/settings/"):
        response = ld("GET", path)
        assert response.status_code == 404, path
        assert response.get_json() == {"detail": "Not found."}


def test_health_needs_no_token_and_reports_the_linkding_version(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"version": "1.44.0", "status": "healthy"}
    assert client.head("/health").status_code == 200


def test_a_method_an_endpoint_lacks_gets_linkdings_405(ld, engine):
    bookmark = create(ld)
    for method, path in (("PUT", "/api/tags/"), ("PATCH", "/api/tags/1/"), ("POST", f"/api/bookmarks/{bookmark['id']}/"),
                         ("GET", f"/api/bookmarks/{bookmark['id']}/archive/"), ("DELETE", "/api/bookmarks/")):
        response = ld(method, path)
        assert response.status_code == 405, (method, path)
        assert response.get_json() == {"detail": f'Method "{method}" not allowed.'}
    assert count(engine, BOOKMARKS) == 1


# --- lists -------------------------------------------------------------------------------------------------------

def test_limit_and_offset_page_as_linkding_does(ld):
    made = [create(ld, url=f"https://example.org/{n}")["id"] for n in range(5)]
    newest_first = made[::-1]
    page = ld("GET", "/api/bookmarks/?limit=2&offset=2&q=example").get_json()
    assert page["count"] == 5 and [b["id"] for b in page["results"]] == newest_first[2:4]
    assert page["next"] == f"{BASE_URL}/api/bookmarks/?q=example&limit=2&offset=4"
    assert page["previous"] == f"{BASE_URL}/api/bookmarks/?q=example&limit=2"
    last = ld("GET", "/api/bookmarks/?limit=2&offset=4").get_json()
    assert [b["id"] for b in last["results"]] == newest_first[4:] and last["next"] is None
    assert ids(ld("GET", "/api/bookmarks/")) == newest_first          # default limit 100
    assert ids(ld("GET", "/api/bookmarks/?limit=0")) == newest_first  # a bad limit means the default
    assert ids(ld("GET", "/api/bookmarks/?limit=x&offset=-1")) == newest_first
    assert ids(ld("GET", "/api/bookmarks/?limit=999999")) == newest_first  # cut to the maximum, not refused


@pytest.fixture
def library(ld) -> dict[str, int]:  # noqa: ANN001
    return {
        "rome": create(ld, url="https://example.org/rome", title="History of Rome", tag_names=["history", "book"])["id"],
        "carthage": create(ld, url="https://example.org/carthage", title="Carthage",
                           description="beyond good and evil", tag_names=["history", "article"])["id"],
        "notes": create(ld, url="https://example.org/plain", title="Plain", notes="ROME in the notes",
                        unread=True)["id"],
        "odd": create(ld, url="https://example.org/odd", title="100% off_sale")["id"],
    }


@pytest.mark.parametrize(("q", "expected"), [
    ("rome", ["notes", "rome"]),                       # title, notes, URL: case-insensitive substrings
    ("ROME history", ["rome"]),                        # juxtaposition is and
    ('"good and evil"', ["carthage"]),                 # a phrase, its "and" is a word
    ("#history", ["carthage", "rome"]),
    ("#HISTORY and not #article", ["rome"]),
    ("#book or #article", ["carthage", "rome"]),
    ("rome (#article or #book)", ["rome"]),
    ("not (#article or #book)", ["odd", "notes"]),
    ("!unread", ["notes"]),
    ("!untagged", ["odd", "notes"]),
    ("!whatever plain", ["notes"]),                    # an unknown keyword matches everything, as in linkding
    ("100%", ["odd"]),                                 # % and _ are letters, not wildcards
    ("1_0", []),                                       # would match "100" if _ were a wildcard
    ("(rome", []),                                     # linkding cannot parse it: no results
    ("rome )", []),
    ("", ["odd", "notes", "carthage", "rome"]),
])
def test_q_follows_linkdings_search_syntax(ld, library, q, expected):
    response = ld("GET", "/api/bookmarks/", query_string={"q": q})
    assert ids(response) == [library[name] for name in expected]
    assert response.get_json()["count"] == len(expected)


def test_the_shared_list_holds_public_and_unlisted_bookmarks_archived_or_not(ld, make_bookmark):
    public = make_bookmark("https://example.org/public", visibility="public")
    unlisted = make_bookmark("https://example.org/unlisted", visibility="unlisted")
    make_bookmark("https://example.org/followers", visibility="followers")
    make_bookmark("https://example.org/private", visibility="private")
    ld("POST", f"/api/bookmarks/{public}/archive/")
    assert ids(ld("GET", "/api/bookmarks/shared/")) == [unlisted, public]


def test_date_added_is_kept_for_a_new_bookmark_and_checked(ld, engine):
    made = create(ld, date_added="2020-09-26T09:46:23.006313Z")
    assert made["date_added"] == "2020-09-26T09:46:23.006313Z"
    before = rows(engine)
    response = ld("POST", "/api/bookmarks/", json={"url": "https://example.org/x", "date_added": "last week"})
    assert response.status_code == 400 and list(response.get_json()) == ["date_added"]
    assert rows(engine) == before


def test_the_list_filters_linkding_reads_from_the_query_string(ld, library):
    assert ids(ld("GET", "/api/bookmarks/?unread=yes")) == [library["notes"]]
    assert library["notes"] not in ids(ld("GET", "/api/bookmarks/?unread=no"))
    assert ids(ld("GET", "/api/bookmarks/?sort=title_asc&q=%23history")) == [library["carthage"], library["rome"]]
    assert ids(ld("GET", "/api/bookmarks/?added_since=2999-01-01T00:00:00Z")) == []
    assert len(ids(ld("GET", "/api/bookmarks/?added_since=not-a-date"))) == 4   # ignored, as there


# --- writes: mapping, merging, bad input ---------------------------------------------------------------------------

def test_the_field_mapping_both_ways(ld, engine):
    made = create(ld, url="https://Example.org/page?utm_source=x", title="T", description="The quote",
                  notes="*Markdown*", tag_names=["Python", "web"], unread=True, shared=True, is_archived=True)
    with engine.connect() as conn:
        row = conn.execute(select(BOOKMARKS).where(BOOKMARKS.c.id == made["id"])).mappings().one()
    assert (row["url"], row["title"], row["quote"], row["annotation"], row["tags_text"]) == (
        "https://example.org/page", "T", "The quote", "*Markdown*", "python web")
    assert (row["visibility"], row["toread"], row["archived"]) == ("public", True, True)
    assert made["url"] == "https://example.org/page" and made["tag_names"] == ["python", "web"]
    assert made["date_added"].endswith("Z") and made["web_archive_snapshot_url"].startswith("https://web.archive.org/web/")
    assert made["favicon_url"] is None and made["website_title"] is None and made["website_description"] is None


@pytest.mark.parametrize(("stored", "shared", "result"), [
    ("public", True, "public"), ("unlisted", True, "unlisted"), ("followers", True, "public"),
    ("private", True, "public"), ("public", False, "private"), ("unlisted", False, "private"),
    ("followers", False, "followers"), ("private", False, "private"),
])
def test_shared_maps_to_visibility_keeping_what_already_agrees(ld, make_bookmark, engine, stored, shared, result):
    bookmark_id = make_bookmark("https://example.org/v", visibility=stored)
    response = ld("PATCH", f"/api/bookmarks/{bookmark_id}/", json={"shared": shared})
    assert response.status_code == 200 and response.get_json()["shared"] is (result in ("public", "unlisted"))
    with engine.connect() as conn:
        assert conn.execute(select(BOOKMARKS.c.visibility)).scalar_one() == result


def test_creating_without_shared_uses_the_sites_default_visibility(ld, engine):
    create(ld)
    with engine.connect() as conn:
        assert conn.execute(select(BOOKMARKS.c.visibility)).scalar_one() == "public"


def test_creating_a_saved_address_updates_that_bookmark_as_linkding_does(ld, engine):
    first = create(ld, title="First", tag_names=["a"])
    again = create(ld, url="https://example.org/#fragment", title="Second", unread=True)
    assert again["id"] == first["id"] and again["title"] == "Second" and again["unread"] is True
    assert again["tag_names"] == ["a"]     # a field not sent keeps its value
    assert count(engine, BOOKMARKS) == 1


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {"url": ["This field is required."]}),
    ({"url": ""}, {"url": ["This field may not be blank."]}),
    ({"url": None}, {"url": ["This field may not be null."]}),
    ({"url": "ftp://example.org/"}, "url"),
    ({"url": "https://example.org/", "unread": "maybe"}, {"unread": ["Must be a valid boolean."]}),
    ({"url": "https://example.org/", "shared": [1]}, {"shared": ["Must be a valid boolean."]}),
    ({"url": "https://example.org/", "tag_names": "a b"}, {"tag_names": ['Expected a list of items but got type "str".']}),
    ({"url": "https://example.org/", "tag_names": ["has space"]}, "tag_names"),
    ({"url": "https://example.org/", "title": {"a": 1}}, {"title": ["Not a valid string."]}),
    ({"url": "https://example.org/", "title": "x" * 600}, "title"),
])
def test_bad_input_gets_linkdings_400_and_changes_nothing(ld, engine, body, errors):
    before = rows(engine)
    response = ld("POST", "/api/bookmarks/", json=body)
    assert response.status_code == 400
    if isinstance(errors, dict):
        assert response.get_json() == errors
    else:
        got = response.get_json()
        assert list(got) == [errors] and isinstance(got[errors], list) and got[errors][0]
    assert rows(engine) == before and count(engine, TAGS) == 0


def test_bodies_linkdings_parsers_refuse(ld, engine):
    response = ld("POST", "/api/bookmarks/", data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["detail"].startswith("JSON parse error")
    response = ld("POST", "/api/bookmarks/", data='["https://example.org/"]', content_type="application/json")
    assert response.status_code == 400 and response.get_json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
    response = ld("POST", "/api/bookmarks/", data="url=https://example.org/", content_type="text/plain")
    assert response.status_code == 415 and response.get_json() == {
        "detail": 'Unsupported media type "text/plain" in request.'}
    assert count(engine, BOOKMARKS) == 0
    form = ld("POST", "/api/bookmarks/", data={"url": "https://example.org/form", "tag_names": ["a", "b"]})
    assert form.status_code == 201 and form.get_json()["tag_names"] == ["a", "b"]


def test_put_needs_the_url_patch_does_not_and_neither_clears_what_is_left_out(ld, engine):
    made = create(ld, title="Kept", description="Kept quote", tag_names=["kept"], unread=True)
    path = f"/api/bookmarks/{made['id']}/"
    before = rows(engine)
    response = ld("PUT", path, json={"title": "No url"})
    assert response.status_code == 400 and response.get_json() == {"url": ["This field is required."]}
    assert rows(engine) == before
    changed = ld("PATCH", path, json={"notes": "new notes"}).get_json()
    assert changed["notes"] == "new notes" and changed["title"] == "Kept" and changed["description"] == "Kept quote"
    assert changed["tag_names"] == ["kept"] and changed["unread"] is True
    put = ld("PUT", path, json={"url": "https://example.org/moved", "is_archived": True}).get_json()
    assert put["url"] == "https://example.org/moved" and put["title"] == "Kept" and put["is_archived"] is True


def test_an_update_to_an_address_another_bookmark_has_is_refused(ld, engine):
    create(ld, url="https://example.org/one")
    two = create(ld, url="https://example.org/two")
    before = rows(engine)
    response = ld("PATCH", f"/api/bookmarks/{two['id']}/", json={"url": "https://example.org/one"})
    assert response.status_code == 400
    assert response.get_json() == {"url": ["A bookmark with this URL already exists."]}
    assert rows(engine) == before


def test_missing_bookmarks_get_linkdings_404(ld):
    for method, path in (("GET", "/api/bookmarks/99/"), ("PATCH", "/api/bookmarks/99/"),
                         ("DELETE", "/api/bookmarks/99/"), ("POST", "/api/bookmarks/99/archive/"),
                         ("POST", "/api/bookmarks/99/unarchive/"), ("GET", f"/api/bookmarks/{2**63}/")):
        response = ld(method, path, json={})
        assert response.status_code == 404, (method, path)
        assert response.get_json() == {"detail": "No Bookmark matches the given query."}


def test_delete_answers_204_and_followers_hear_of_it(ld, engine):
    made = create(ld)
    outbox = count(engine, OUTBOX_ACTIVITIES)
    response = ld("DELETE", f"/api/bookmarks/{made['id']}/")
    assert response.status_code == 204 and response.data == b""
    assert count(engine, BOOKMARKS) == 0 and count(engine, OUTBOX_ACTIVITIES) == outbox + 1


# --- archive ---------------------------------------------------------------------------------------------------------

def test_archiving_files_a_bookmark_away_from_the_owners_lists_only(ld, engine, owner, client):
    made = create(ld, title="Filed away", unread=True, shared=True)
    kept = create(ld, url="https://example.org/kept", title="Still here")
    outbox = count(engine, OUTBOX_ACTIVITIES)
    assert ld("POST", f"/api/bookmarks/{made['id']}/archive/").status_code == 204
    assert ids(ld("GET", "/api/bookmarks/")) == [kept["id"]]
    assert ids(ld("GET", "/api/bookmarks/archived/")) == [made["id"]]
    assert "Filed away" not in owner.get("/").get_data(as_text=True)
    assert "Filed away" not in owner.get("/admin/toread").get_data(as_text=True)
    assert "Filed away" in owner.get("/admin/archived").get_data(as_text=True)
    assert "Filed away" in client.get("/").get_data(as_text=True)   # readers still see a public one
    assert count(engine, OUTBOX_ACTIVITIES) == outbox              # the owner's own state: nobody is told
    assert ld("GET", f"/api/bookmarks/{made['id']}/").get_json()["date_modified"] == made["date_modified"]
    assert ld("POST", f"/api/bookmarks/{made['id']}/unarchive/").status_code == 204
    assert "Filed away" in owner.get("/").get_data(as_text=True)
    assert ids(ld("GET", "/api/bookmarks/archived/")) == []


# --- check, tags, profile --------------------------------------------------------------------------------------------

def test_check_finds_a_saved_address_as_linkblog_normalises_it(ld):
    made = create(ld, url="https://example.org/page")
    found = ld("GET", "/api/bookmarks/check/", query_string={"url": "https://EXAMPLE.org/page?utm_medium=x"})
    assert found.status_code == 200
    body = found.get_json()
    assert body["bookmark"]["id"] == made["id"] and body["auto_tags"] == []
    assert body["metadata"] == {"url": "https://EXAMPLE.org/page?utm_medium=x", "title": None, "description": None,
                                "preview_image": None}
    assert ld("GET", "/api/bookmarks/check/?url=https://example.org/other").get_json()["bookmark"] is None
    assert ld("GET", "/api/bookmarks/check/?url=not%20a%20url").get_json()["bookmark"] is None
    missing = ld("GET", "/api/bookmarks/check/")
    assert missing.status_code == 400 and missing.get_json() == {"url": ["This field is required."]}


def test_tags_list_get_and_create(ld, engine):
    create(ld, tag_names=["b", "a"])
    listing = ld("GET", "/api/tags/?limit=5000").get_json()
    assert listing["count"] == 2 and [t["name"] for t in listing["results"]] == ["b", "a"]   # in the order made
    assert all(t["date_added"].endswith("Z") for t in listing["results"])
    first = listing["results"][0]
    assert ld("GET", f"/api/tags/{first['id']}/").get_json() == first
    missing = ld("GET", "/api/tags/999/")
    assert missing.status_code == 404 and missing.get_json() == {"detail": "No Tag matches the given query."}
    made = ld("POST", "/api/tags/", json={"name": "New-Tag"})
    assert made.status_code == 201 and made.get_json()["name"] == "new-tag"
    again = ld("POST", "/api/tags/", json={"name": "new-tag"})
    assert again.status_code == 201 and again.get_json()["id"] == made.get_json()["id"]
    tags_before = count(engine, TAGS)
    for body, errors in (({"example": "x"}, {"name": ["This field is required."]}),
                         ({"name": 5}, {"name": ["Not a valid string."]})):
        response = ld("POST", "/api/tags/", json=body)
        assert response.status_code == 400 and response.get_json() == errors
    response = ld("POST", "/api/tags/", json={"name": "two words"})
    assert response.status_code == 400 and list(response.get_json()) == ["name"]
    assert count(engine, TAGS) == tags_before


def test_deleting_a_tag_takes_it_off_every_bookmark_as_an_edit(ld, engine):
    one = create(ld, url="https://example.org/1", tag_names=["gone", "kept"], shared=True)
    two = create(ld, url="https://example.org/2", tag_names=["gone"], shared=False)
    gone = next(t for t in ld("GET", "/api/tags/").get_json()["results"] if t["name"] == "gone")
    outbox = count(engine, OUTBOX_ACTIVITIES)
    response = ld("DELETE", f"/api/tags/{gone['id']}/")
    assert response.status_code == 204
    assert ld("GET", f"/api/bookmarks/{one['id']}/").get_json()["tag_names"] == ["kept"]
    assert ld("GET", f"/api/bookmarks/{two['id']}/").get_json()["tag_names"] == []
    assert [t["name"] for t in ld("GET", "/api/tags/").get_json()["results"]] == ["kept"]
    assert count(engine, OUTBOX_ACTIVITIES) == outbox + 1   # the public bookmark's Update; the private one's none
    missing = ld("DELETE", f"/api/tags/{gone['id']}/")
    assert missing.status_code == 404 and missing.get_json() == {"detail": "No Tag matches the given query."}


def test_the_user_profile(ld):
    profile = ld("GET", "/api/user/profile/").get_json()
    assert profile["enable_sharing"] is True and profile["enable_public_sharing"] is True
    assert profile["version"] == "1.44.0" and profile["tag_search"] == "strict"
