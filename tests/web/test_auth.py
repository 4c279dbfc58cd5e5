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


def _failed_login(client, token: str, address: str, username: str = OWNER):
    return client.post("/login", data={"username": username, "password": "bad", "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_addresses_of_one_ipv6_64_share_one_limit(client):
    """Five tries from five addresses of 2001:db8:1:2::/64 use up that network's tries: a /64 is one client."""
    token = csrf_of(client)
    for n in range(1, 6):
        assert _failed_login(client, token, f"2001:db8:1:2::{n:x}").status_code == 401
    blocked = client.post("/login", data={"username": OWNER, "password": PASSWORD, "csrf_token": token},
                          environ_base={"REMOTE_ADDR": "2001:db8:1:2:ffff:ffff:ffff:ffff"})
    assert blocked.status_code == 429 and b"Too many failed logins from your address" in blocked.data
    neighbour = client.post("/login", data={"username": OWNER, "password": PASSWORD, "csrf_token": token},
                            environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert neighbour.status_code == 302


def test_ipv4_mapped_addresses_count_as_their_ipv4_address(client):
    token = csrf_of(client)
    for _ in range(5):
        assert _failed_login(client, token, "::ffff:192.0.2.7").status_code == 401
    assert _failed_login(client, token, "192.0.2.7").status_code == 429


def test_the_account_locks_whatever_the_addresses(database_url, key_pair, password_hash):
    """A guess spread over many addresses (a botnet) still runs into the per-account limit, and while it
    holds even the right password is refused; another user name does not count toward it."""
    from linkblog import create_app
    from sqlalchemy import insert

    from linkblog.models import Owner

    app = create_app(make_config(database_url, **{"security.account_login_attempts": 4,
                                                  "security.account_login_window": 600}))
    app.config["TESTING"] = True
    with app.extensions["linkblog"].engine.begin() as conn:
        conn.execute(insert(Owner).values(id=1, username=OWNER, display_name="", summary="",
                                          password_hash=password_hash, session_epoch=1,
                                          private_key_pem=key_pair[0], public_key_pem=key_pair[1]))
    client = app.test_client()
    token = csrf_of(client)
    for n in range(3):
        assert _failed_login(client, token, f"198.51.100.{n}", username="someone-else").status_code == 401
    for n in range(4):
        assert _failed_login(client, token, f"203.0.113.{n}").status_code == 401
    right = client.post("/login", data={"username": OWNER, "password": PASSWORD, "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "192.0.2.200"})
    assert right.status_code == 429
    assert b"Too many failed logins for this account" in right.data
    app.extensions["linkblog"].engine.dispose()


def _session_cookie(client) -> str:
    cookie = client.get_cookie("linkblog_session")
    assert cookie is not None
    return cookie.value


def _with_cookie(app, value: str):
    copy = app.test_client()
    copy.set_cookie("linkblog_session", value)
    return copy


def test_a_copied_session_cookie_dies_with_logout(app, owner):
    stolen = _with_cookie(app, _session_cookie(owner))
    assert stolen.get("/save").status_code == 200  # the copy works while the session lasts
    assert owner.post("/logout", data={"csrf_token": owner.csrf}).status_code == 302
    assert stolen.get("/save").status_code == 302
    assert stolen.post("/save", data={"url": "https://example.org/after-logout", "title": "x",
                                      "visibility": "public", "csrf_token": owner.csrf}).status_code == 302
    with app.extensions["linkblog"].engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Bookmark)).scalar() == 0


def test_logging_out_one_browser_keeps_the_others(app, owner):
    other = app.test_client()
    assert login(other).status_code == 302
    assert other.post("/logout", data={"csrf_token": csrf_of(other)}).status_code == 302
    assert owner.get("/save").status_code == 200


def test_log_out_everywhere_ends_every_session(app, owner):
    laptop = app.test_client()
    assert login(laptop).status_code == 302
    stolen = _with_cookie(app, _session_cookie(laptop))
    page = owner.get("/settings/password")
    assert b'action="/logout/everywhere"' in page.data and b"Log out everywhere" in page.data
    assert b'action="/logout/everywhere"' in owner.get("/admin/account").data
    assert owner.post("/logout/everywhere", data={}).status_code == 400  # a form post: CSRF applies
    assert laptop.get("/save").status_code == 200
    response = owner.post("/logout/everywhere", data={"csrf_token": owner.csrf})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    for browser in (owner, laptop, stolen):
        assert browser.get("/save").status_code == 302
    assert login(app.test_client()).status_code == 302  # logging in again works


def test_log_out_everywhere_leaves_api_tokens_alone(app, owner):
    from linkblog import tokens

    with app.extensions["linkblog"].engine.begin() as conn:
        secret = tokens.create_token(conn, "script")
    headers = {"Authorization": f"Bearer {secret}"}
    assert owner.post("/logout/everywhere", data={"csrf_token": owner.csrf}).status_code == 302
    assert app.test_client().get("/api/bookmarks", headers=headers).status_code == 200


def test_a_session_older_than_the_cookie_lifetime_is_refused_by_the_server(app, owner):
    """The cookie's own expiry is the browser's business; a copy kept past 30 days must still fail here."""
    from datetime import timedelta

    from sqlalchemy import update

    from linkblog.db import utcnow
    from linkblog.models import OWNER_SESSIONS

    stolen = _with_cookie(app, _session_cookie(owner))
    with app.extensions["linkblog"].engine.begin() as conn:
        conn.execute(update(OWNER_SESSIONS).values(created_at=utcnow() - timedelta(days=31)))
    assert stolen.get("/save").status_code == 302
    assert owner.get("/save").status_code == 302
