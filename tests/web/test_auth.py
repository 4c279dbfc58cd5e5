"""Login, sessions, rate limits, CSRF, safe redirects and headers."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from linkblog.models import Bookmark, LoginFailure
from linkblog.web.security import safe_next

from tests.support.app import OWNER, PASSWORD, csrf_of, login, make_config

OWNER_ONLY_GETS = ["/save", "/save?url=https://example.org/", "/bookmarks/1/edit", "/settings/password",
                   "/admin/", "/admin/weeknotes", "/admin/tags", "/admin/tokens"]


@pytest.mark.parametrize("path", OWNER_ONLY_GETS)
def test_owner_pages_send_visitors_to_login_and_back(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_login_returns_to_next_with_its_query(client):
    token = csrf_of(client)
    response = client.post("/login", data={"username": OWNER, "password": PASSWORD, "csrf_token": token,
                                           "next": "/save?url=https://example.org/x&title=Hi"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/save?url=https://example.org/x&title=Hi"
    assert b"https://example.org/x" in client.get(response.headers["Location"]).data


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "evil", "/\x0d\x0aLocation: x"])
def test_next_never_leaves_the_site(client, target):
    token = csrf_of(client)
    response = client.post("/login", data={"username": OWNER, "password": PASSWORD, "csrf_token": token,
                                           "next": target})
    assert response.headers["Location"] == "/"
    assert safe_next(target) == "/"


def test_session_cookie_is_httponly_and_samesite(client):
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # base_url is http in tests


def test_cookie_is_secure_behind_https(database_url, key_pair, password_hash):
    from linkblog import create_app

    app = create_app(make_config(database_url, **{"site.base_url": "https://links.example.org"}))
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_wrong_password_is_401_and_counted(client, engine):
    token = csrf_of(client)
    response = client.post("/login", data={"username": OWNER, "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert b"Wrong user name or password" in response.data
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LoginFailure)).scalar() == 1


def test_logins_are_rate_limited_per_address(client, engine):
    token = csrf_of(client)
    for _ in range(5):
        assert client.post("/login", data={"username": OWNER, "password": "bad", "csrf_token": token}).status_code == 401
    blocked = client.post("/login", data={"username": OWNER, "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429
    assert b"Too many failed logins" in blocked.data
    other = client.post("/login", data={"username": OWNER, "password": PASSWORD, "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 302


def test_forms_without_csrf_token_change_nothing(owner, engine):
    data = {"url": "https://example.org/csrf", "title": "x", "visibility": "public"}
    assert owner.post("/save", data=data).status_code == 400
    assert owner.post("/save", data={**data, "csrf_token": "forged"}).status_code == 400
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Bookmark)).scalar() == 0
    assert owner.post("/logout").status_code == 400
    assert owner.get("/save").status_code == 200  # still logged in


def test_login_form_itself_needs_csrf(client):
    response = client.post("/login", data={"username": OWNER, "password": PASSWORD})
    assert response.status_code == 400
    assert b"CSRF" in response.data


def test_logout(owner):
    assert owner.post("/logout", data={"csrf_token": owner.csrf}).status_code == 302
    assert owner.get("/save").status_code == 302


def test_password_change_logs_out_other_sessions(app, owner):
    other = app.test_client()
    login(other)
    assert other.get("/save").status_code == 200
    bad = owner.post("/settings/password", data={"current": "wrong", "new": "x" * 12, "confirm": "x" * 12,
                                                 "csrf_token": owner.csrf})
    assert bad.status_code == 400 and b"current password is wrong" in bad.data
    short = owner.post("/settings/password", data={"current": PASSWORD, "new": "short", "confirm": "short",
                                                   "csrf_token": owner.csrf})
    assert short.status_code == 400
    ok = owner.post("/settings/password", data={"current": PASSWORD, "new": "a new long password",
                                                "confirm": "a new long password", "csrf_token": owner.csrf})
    assert ok.status_code == 302
    assert owner.get("/save").status_code == 200
    assert other.get("/save").status_code == 302
    fresh = app.test_client()
    assert login(fresh).status_code == 401
    assert login(fresh, "a new long password").status_code == 302


def test_every_html_response_has_csp_and_nosniff(client, owner):
    for c, path in [(client, "/"), (client, "/login"), (client, "/nope"), (owner, "/save"), (client, "/tags/")]:
        response = c.get(path)
        assert "Content-Security-Policy" in response.headers, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path


def test_secrets_never_reach_pages(owner, config, app):
    pages = b"".join(owner.get(p).data for p in ["/", "/save", "/settings/password", "/tags/"])
    assert config.secret_key.encode() not in pages
    assert b"scrypt$" not in pages and b"PRIVATE KEY" not in pages
