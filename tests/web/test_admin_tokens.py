"""API tokens through the owner's page on both databases: created once, listed without secrets, revoked."""
from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select

from linkblog import tokens
from linkblog.models import ApiToken

from tests.support.app import csrf_of

AT = ApiToken.__table__
SECRET_RE = re.compile(r'value="(lb_[A-Za-z0-9_-]{20,})"')


def _rows(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(AT).order_by(AT.c.id)).mappings()]


def _create(owner, name: str):
    return owner.post("/admin/tokens", data={"name": name, "csrf_token": owner.csrf})


def _revoke(owner, name: str):
    return owner.post("/admin/tokens/revoke", data={"name": name, "csrf_token": owner.csrf})


def _api_works(app, client, secret: str) -> bool | None:
    """Whether the JSON API accepts the token (None while the API has no bookmark list to ask)."""
    if not any(rule.rule == "/api/bookmarks" for rule in app.url_map.iter_rules()):
        return None
    response = client.get("/api/bookmarks", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code in (200, 401), response.data
    return response.status_code == 200


def test_new_token_is_shown_once_and_stored_hashed(owner, engine):
    response = _create(owner, "phone-shortcut")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "shown only this once" in page
    [secret] = SECRET_RE.findall(page)
    [row] = _rows(engine)
    assert row["name"] == "phone-shortcut"
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(row)
    assert (row["last_used_at"], row["revoked_at"]) == (None, None)

    listing = owner.get("/admin/tokens").get_data(as_text=True)
    assert "phone-shortcut" in listing and "never" in listing
    assert secret not in listing and row["token_hash"] not in listing


def test_created_token_authenticates_until_revoked(app, owner, client, engine):
    [secret] = SECRET_RE.findall(_create(owner, "script").get_data(as_text=True))
    assert _api_works(app, client, secret) in (True, None)
    with engine.begin() as conn:
        assert tokens.authenticate(conn, secret) == _rows(engine)[0]["id"]
    assert _rows(engine)[0]["last_used_at"] is not None
    assert "never" not in owner.get("/admin/tokens").get_data(as_text=True)

    response = _revoke(owner, "script")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/tokens"
    assert _rows(engine)[0]["revoked_at"] is not None
    with engine.begin() as conn:
        assert tokens.authenticate(conn, secret) is None
    assert _api_works(app, client, secret) in (False, None)
    listing = owner.get("/admin/tokens").get_data(as_text=True)
    assert "revoked" in listing and "Revoked the token" in listing
    assert 'action="/admin/tokens/revoke"' not in listing  # nothing left to revoke


def test_each_token_has_its_own_revoke_button(owner, engine):
    _create(owner, "one")
    _create(owner, "two")
    listing = owner.get("/admin/tokens").get_data(as_text=True)
    assert listing.count('action="/admin/tokens/revoke"') == 2
    _revoke(owner, "two")
    assert [(r["name"], r["revoked_at"] is None) for r in _rows(engine)] == [("one", True), ("two", False)]


@pytest.mark.parametrize("name, message", [
    ("has space", "no spaces"),
    ("", "1 to 100"),
    ("x" * 101, "1 to 100"),
    ("semi;colon", "letters, digits"),
])
def test_invalid_token_name_is_reshown_and_creates_nothing(owner, engine, name, message):
    response = _create(owner, name)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'role="alert"' in page
    assert re.search(r'<input id="name"[^>]*aria-invalid="true"', page)
    assert f'value="{name}"' in page
    assert not SECRET_RE.search(page)
    assert _rows(engine) == []


def test_duplicate_token_name_is_refused(owner, engine):
    _create(owner, "phone")
    response = _create(owner, "phone")
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert len(_rows(engine)) == 1


def test_revoking_an_unknown_or_revoked_token_is_refused(owner, engine):
    assert _revoke(owner, "nobody").status_code == 400
    _create(owner, "phone")
    _revoke(owner, "phone")
    revoked_at = _rows(engine)[0]["revoked_at"]
    response = _revoke(owner, "phone")
    assert response.status_code == 400
    assert "no active token" in response.get_data(as_text=True)
    assert _rows(engine)[0]["revoked_at"] == revoked_at


def test_token_forms_need_the_csrf_token(owner, engine):
    assert owner.post("/admin/tokens", data={"name": "phone"}).status_code == 400
    assert _rows(engine) == []
    _create(owner, "phone")
    assert owner.post("/admin/tokens/revoke", data={"name": "phone"}).status_code == 400
    assert _rows(engine)[0]["revoked_at"] is None


def test_visitors_cannot_create_or_revoke(owner, client, engine):
    _create(owner, "phone")
    token = csrf_of(client)
    assert client.post("/admin/tokens", data={"name": "evil", "csrf_token": token}).status_code == 302
    assert client.post("/admin/tokens/revoke", data={"name": "phone", "csrf_token": token}).status_code == 302
    assert [(r["name"], r["revoked_at"]) for r in _rows(engine)] == [("phone", None)]


def test_the_pinboard_box_makes_a_token_pinboard_apps_may_send_in_the_url(owner, client, engine):
    response = owner.post("/admin/tokens", data={"name": "pinboard-app", "pinboard": "1", "csrf_token": owner.csrf})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    [secret] = re.findall(r'value="owner:(lb_[A-Za-z0-9_-]{20,})"', page)
    assert "http://links.test/v1/" in page
    [plain] = SECRET_RE.findall(_create(owner, "script").get_data(as_text=True))
    assert [(r["name"], r["query_string_allowed"]) for r in _rows(engine)] == [("pinboard-app", True),
                                                                               ("script", False)]
    assert client.get("/v1/posts/update", query_string={"auth_token": f"owner:{secret}"}).status_code == 200
    assert client.get("/v1/posts/update", query_string={"auth_token": f"owner:{plain}"}).status_code == 401
    assert "(Pinboard)" in owner.get("/admin/tokens").get_data(as_text=True)


def test_the_tokens_page_has_the_pinboard_box(owner):
    page = owner.get("/admin/tokens").get_data(as_text=True)
    assert 'type="checkbox" id="pinboard" name="pinboard" value="1"' in page
    assert '<label class="choice">' in page
