"""CSRF exemption is declared by the view or blueprint that needs it (``security.csrf_exempt``), never by a
list of paths elsewhere: form views stay protected, the inbox and the API are exempt because they say so."""
from __future__ import annotations

from flask import Blueprint, Flask

from linkblog.web import security
from linkblog.web.security import csrf_exempt

AP = "application/activity+json"


def small_app() -> Flask:
    """Only the security layer and three kinds of POST view: plain, declared exempt, in an exempt blueprint."""
    app = Flask(__name__)
    app.secret_key = "s" * 40
    security.init_app(app)

    @app.post("/form")
    def form() -> str:
        return "changed"

    @app.post("/signed")
    @csrf_exempt
    def signed() -> str:
        return "accepted"

    tokens = csrf_exempt(Blueprint("tokens", __name__, url_prefix="/tokens"))

    @tokens.post("/things")
    def things() -> str:
        return "made"

    app.register_blueprint(tokens)
    return app


def test_a_form_view_without_its_token_is_refused():
    client = small_app().test_client()
    assert client.post("/form").status_code == 400
    assert client.post("/form", data={"csrf_token": "forged"}).status_code == 400
    with client.session_transaction() as session:
        session["csrf"] = "the-token"
    assert client.post("/form", data={"csrf_token": "forged"}).status_code == 400
    assert client.post("/form", data={"csrf_token": "the-token"}).data == b"changed"
    assert client.post("/form", headers={"X-CSRF-Token": "the-token"}).data == b"changed"


def test_declared_views_and_blueprints_need_no_token():
    client = small_app().test_client()
    assert client.post("/signed").data == b"accepted"
    assert client.post("/tokens/things").data == b"made"


def test_a_wrong_method_answers_405_on_an_exempt_url_and_400_elsewhere():
    client = small_app().test_client()
    assert client.put("/signed").status_code == 405
    assert client.put("/tokens/things").status_code == 405
    assert client.put("/form").status_code == 400


def test_the_inbox_and_the_api_declare_their_exemption(app, client):
    assert getattr(app.view_functions["inbox.receive"], "csrf_exempt", False) is True
    assert getattr(app.blueprints["api"], "csrf_exempt", False) is True
    with app.test_request_context():
        assert security.is_csrf_exempt("inbox.receive")
        assert security.is_csrf_exempt("api.bookmarks")
        assert not security.is_csrf_exempt("owner.save")
        assert not security.is_csrf_exempt("auth.login")
        assert not security.is_csrf_exempt(None)
    inbox = client.post("/inbox", data=b"{}", content_type=AP)   # unsigned: refused by the inbox, not by CSRF
    assert inbox.status_code in (400, 401) and inbox.content_type == "application/json"
    assert b"CSRF" not in inbox.data
    api = client.post("/api/bookmarks", json={})
    assert api.status_code == 401 and b"CSRF" not in api.data
    assert client.put("/inbox").status_code == 405
    login = client.post("/login", data={"username": "owner", "password": "x"})
    assert login.status_code == 400 and b"CSRF check failed" in login.data


def test_without_its_declaration_the_inbox_would_be_refused(app, client, monkeypatch):
    monkeypatch.delattr(app.view_functions["inbox.receive"], "csrf_exempt")
    refused = client.post("/inbox", data=b"{}", content_type=AP)
    assert refused.status_code == 400 and b"CSRF check failed" in refused.data


def test_the_session_cookie_is_signed_with_one_serializer_and_none_without_a_cookie(app, client, monkeypatch):
    """Flask built an itsdangerous serializer to open every request's session, cookie or not; now readers
    without our cookie cost none, and the owner's requests reuse one (the cookie itself is unchanged)."""
    import itsdangerous
    from flask import session

    built = []
    original = itsdangerous.URLSafeTimedSerializer.__init__

    def counting(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(itsdangerous.URLSafeTimedSerializer, "__init__", counting)

    @app.get("/test-session-write")
    def write():  # noqa: ANN202
        session["seen"] = session.get("seen", 0) + 1
        return str(session["seen"])

    for _ in range(3):
        assert "Set-Cookie" not in client.get("/").headers
    assert built == []
    assert [client.get("/test-session-write").text for _ in range(3)] == ["1", "2", "3"]   # signed, read back
    assert len(built) == 1
