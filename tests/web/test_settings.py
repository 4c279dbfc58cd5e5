"""/admin/settings through the app: what the owner saves wins over config.toml in pages, feeds, NodeInfo and
the actor; a profile change reaches followers as one actor Update; avatars are resized and stripped."""
from __future__ import annotations

import html
import io
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, insert, select, text

from linkblog.models import (AVATARS, BOOKMARKS, DELIVERIES, FOLLOWERS, OUTBOX_ACTIVITIES, OWNER_TABLE, REMOTE_ACTORS,
                             SETTINGS)
from tests.support.app import BASE_URL, make_config

ACTIVITY_JSON = {"Accept": "application/activity+json"}
HANDLE = "@owner@links.test"


def add_follower(engine, name: str, host: str, state: str = "accepted") -> None:
    uri = f"https://{host}/users/{name}"
    with engine.begin() as conn:
        actor = conn.execute(insert(REMOTE_ACTORS).values(
            uri=uri, inbox=f"{uri}/inbox", shared_inbox=f"https://{host}/inbox", handle=f"{name}@{host}",
            display_name=name, fetched_at=datetime(2026, 1, 1), created_at=datetime(2026, 1, 1))
            .returning(REMOTE_ACTORS.c.id)).scalar_one()
        conn.execute(insert(FOLLOWERS).values(actor_id=actor, follow_uri=f"{uri}/follow/1", state=state,
                                              created_at=datetime(2026, 1, 1)))


def jpeg_with_gps(size: tuple[int, int] = (1200, 900)) -> bytes:
    """A camera-like JPEG: EXIF with the camera's make and a GPS position, and a comment."""
    image = Image.new("RGB", size, (200, 30, 30))
    for x in range(0, size[0], 50):  # some detail, so it is not one flat colour
        image.paste((20, 20, 180), (x, 0, x + 10, size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at home")
    return out.getvalue()


def current_form(owner) -> dict[str, Any]:
    """The settings form as the page fills it in (what a browser would send back unchanged)."""
    page = owner.get("/admin/settings").get_data(as_text=True)
    assert "Save settings" in page

    def value(name: str) -> str:
        found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
        return found.group(1) if found else ""

    bio = re.search(r'<textarea id="bio"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    form = {"csrf_token": owner.csrf, "display_name": html.unescape(value("display_name")),
            "bio": html.unescape(bio), "title": html.unescape(value("title")),
            "description": html.unescape(value("description")), "timezone": value("timezone"),
            "default_visibility": re.search(r'name="default_visibility" value="(\w+)" checked', page).group(1)}
    if re.search(r'name="manually_approves_followers" value="on" checked', page):
        form["manually_approves_followers"] = "on"
    return form


def post(owner, avatar: bytes | None = None, filename: str = "me.jpg", **changes: Any):
    data: dict[str, Any] = current_form(owner) | changes
    if avatar is not None:
        data["avatar"] = (io.BytesIO(avatar), filename)
    return owner.post("/admin/settings", data=data, content_type="multipart/form-data")


def updates(engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(OUTBOX_ACTIVITIES.c.payload).where(OUTBOX_ACTIVITIES.c.type == "Update")
                            .order_by(OUTBOX_ACTIVITIES.c.id)).scalars().all()
    return [json.loads(r) for r in rows]


def actor(client) -> dict[str, Any]:
    response = client.get("/actor", headers=ACTIVITY_JSON)
    assert response.status_code == 200
    return response.get_json()


# --- access ---------------------------------------------------------------------------------------------------


def test_the_settings_page_is_the_owners_only(client, owner):
    response = client.get("/admin/settings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post("/admin/settings", data={"title": "Taken over"})
    assert response.status_code == 400  # no CSRF token: refused before anything else
    response = owner.post("/admin/settings", data={"title": "No token", "timezone": "UTC"})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert "My links" in client.get("/").get_data(as_text=True)


# --- site settings over config.toml -------------------------------------------------------------------------


def test_saved_site_settings_win_over_config_everywhere(client, owner, engine, make_bookmark):
    make_bookmark("https://example.org/late", "Late", created_at=datetime(2026, 3, 1, 23, 30))
    response = post(owner, title="Ada's reading", description="What Ada read this week.",
                    timezone="Asia/Tokyo", default_visibility="unlisted", manually_approves_followers="on")
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/settings")
    with engine.connect() as conn:
        stored = {row.key: row.value for row in conn.execute(select(SETTINGS.c.key, SETTINGS.c.value))}
    assert stored == {"site.title": '"Ada\'s reading"', "site.description": '"What Ada read this week."',
                      "site.timezone": '"Asia/Tokyo"', "site.default_visibility": '"unlisted"',
                      "federation.manually_approves_followers": "true"}
    flashed = owner.get("/admin/settings").get_data(as_text=True)
    assert "Saved: site title, site description, time zone, default visibility, follow approval." in flashed
    assert "saved here" in flashed

    home = client.get("/").get_data(as_text=True)
    assert "<title>Ada&#39;s reading</title>" in home and "What Ada read this week." in home
    assert "My links" not in home
    assert "2 Mar 2026" in home  # 23:30 UTC on 1 March is the next morning in Tokyo
    feed = client.get("/feeds/all.atom").get_data(as_text=True)
    assert '<title type="text">Ada\'s reading</title>' in feed
    assert '<subtitle type="text">What Ada read this week.</subtitle>' in feed
    nodeinfo = client.get("/nodeinfo/2.1").get_json()
    assert nodeinfo["metadata"] == {"nodeName": "Ada's reading", "nodeDescription": "What Ada read this week."}
    assert actor(client)["manuallyApprovesFollowers"] is True
    form = owner.get("/save").get_data(as_text=True)
    assert 'value="unlisted" checked' in form

    # Back to config.toml's value: the stored row goes, so later edits of the file apply again.
    post(owner, title="My links")
    with engine.connect() as conn:
        assert conn.execute(select(SETTINGS.c.key).where(SETTINGS.c.key == "site.title")).first() is None
    assert "<title>My links</title>" in client.get("/").get_data(as_text=True)


def test_every_bad_field_is_reported_at_once_and_nothing_is_saved(owner, engine):
    response = post(owner, avatar=b"this is a text file, not a picture", filename="notes.txt",
                    title="   ", timezone="Mars/Olympus_Mons", default_visibility="everyone",
                    display_name="x" * 201, bio="y" * 5001)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nothing was saved. These need fixing:" in page
    for message in ("The site title must not be empty.", "The time zone &#39;Mars/Olympus_Mons&#39; is unknown",
                    "The default visibility must be one of public, unlisted, followers, private.",
                    "The display name is 201 characters; the most is 200.",
                    "The bio is 5,001 characters; the most is 5,000.",
                    "The avatar file is not an image we can read: choose a JPEG, PNG, GIF or WebP image."):
        assert message in page, message
    assert page.count('aria-invalid="true"') == 5  # every bad text field and the file input
    assert 'value="Mars/Olympus_Mons"' in page  # what was typed is shown again
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SETTINGS)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(AVATARS)).scalar_one() == 0
        assert conn.execute(select(OWNER_TABLE.c.display_name)).scalar_one() == "The Owner"
    assert updates(engine) == []


# --- the profile and the actor Update -----------------------------------------------------------------------


def test_a_profile_change_reaches_followers_as_one_actor_update(client, owner, engine):
    add_follower(engine, "amy", "one.example")
    add_follower(engine, "bob", "two.example")
    add_follower(engine, "cat", "two.example")  # same server: one delivery to its shared inbox
    add_follower(engine, "dan", "three.example", state="pending")  # not a follower yet
    response = post(owner, avatar=jpeg_with_gps(), display_name="Ada Lovelace",
                    bio="I read about **engines**.\n\nMore at [my site](https://ada.example/).")
    assert response.status_code == 303
    assert "Your followers&#39; servers were sent the new profile." in owner.get("/admin/settings").get_data(
        as_text=True)

    sent = updates(engine)
    assert len(sent) == 1
    person = sent[0]["object"]
    assert person["type"] == "Person" and person["name"] == "Ada Lovelace"
    assert "<strong>engines</strong>" in person["summary"] and 'href="https://ada.example/"' in person["summary"]
    assert person["icon"]["mediaType"] == "image/jpeg" and person["icon"]["url"].startswith(f"{BASE_URL}/avatar/")
    with engine.connect() as conn:
        inboxes = conn.execute(select(DELIVERIES.c.inbox).join(OUTBOX_ACTIVITIES)
                               .where(OUTBOX_ACTIVITIES.c.type == "Update")).scalars().all()
    assert sorted(inboxes) == ["https://one.example/inbox", "https://two.example/inbox"]

    served = actor(client)  # what the Update carried is what the actor serves
    for key in ("name", "summary", "icon"):
        assert served[key] == person[key]
    assert client.get(urlsplit(served["icon"]["url"]).path).status_code == 200
    feed = client.get("/feeds/all.json").get_json()  # the feeds credit the same name and picture
    assert feed["icon"] == person["icon"]["url"]
    assert feed["authors"] == [{"name": "Ada Lovelace", "url": f"{BASE_URL}/", "avatar": person["icon"]["url"]}]
    assert f"<icon>{person['icon']['url']}</icon>" in client.get("/feeds/all.atom").get_data(as_text=True)
    assert "<name>Ada Lovelace</name>" in client.get("/feeds/all.atom").get_data(as_text=True)

    # Saving again unchanged, or changing only what the actor does not show, tells no one.
    post(owner)
    assert "Nothing changed." in owner.get("/admin/settings").get_data(as_text=True)
    post(owner, title="Another title", description="Another line.")
    assert len(updates(engine)) == 1
    # A second profile change: a second Update, with the new name.
    post(owner, display_name="Ada L.")
    assert [u["object"]["name"] for u in updates(engine)] == ["Ada Lovelace", "Ada L."]


def test_the_bio_is_markdown_rendered_and_sanitised(client, owner, engine):
    post(owner, bio="Hi <script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)> *ok*")
    with engine.connect() as conn:
        summary, html = conn.execute(select(OWNER_TABLE.c.summary, OWNER_TABLE.c.summary_html)).one()
    assert summary.startswith("Hi <script>")  # the source is kept as typed, for the form
    assert "<em>ok</em>" in html
    for bad in ("<script", 'href="javascript:', "<img"):  # escaped as text or dropped, never live
        assert bad not in html, bad
    assert actor(client)["summary"] == html
    about = client.get("/about").get_data(as_text=True)
    assert html in about and "<script>alert" not in about


def test_the_avatar_is_shrunk_re_encoded_and_stripped_of_its_metadata(client, owner, engine):
    upload = jpeg_with_gps((1600, 1200))
    assert b"SecretCam" in upload and b"taken at home" in upload
    assert post(owner, avatar=upload).status_code == 303
    with engine.connect() as conn:
        digest = conn.execute(select(OWNER_TABLE.c.avatar_digest)).scalar_one()
        stored = conn.execute(select(AVATARS)).mappings().one()
    assert stored["digest"] == digest and (stored["width"], stored["height"]) == (400, 300)
    response = client.get(f"/avatar/{digest}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert "immutable" in response.headers["Cache-Control"]
    data = response.data
    assert data == stored["data"] and len(data) < len(upload)
    image = Image.open(io.BytesIO(data))
    assert image.size == (400, 300)
    assert dict(image.getexif()) == {} and image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert "exif" not in image.info and "comment" not in image.info and "icc_profile" not in image.info
    assert b"SecretCam" not in data and b"taken at home" not in data and b"Exif" not in data

    # A transparent PNG stays a PNG (with its transparency); the old avatar is gone.
    png = io.BytesIO()
    Image.new("RGBA", (300, 500), (0, 0, 0, 0)).save(png, "PNG")
    post(owner, avatar=png.getvalue(), filename="me.png")
    with engine.connect() as conn:
        rows = conn.execute(select(AVATARS.c.digest, AVATARS.c.media_type, AVATARS.c.width, AVATARS.c.height)).all()
    assert [(r.media_type, r.width, r.height) for r in rows] == [("image/png", 240, 400)]
    assert client.get(f"/avatar/{digest}").status_code == 404
    assert Image.open(io.BytesIO(client.get(f"/avatar/{rows[0].digest}").data)).mode == "RGBA"

    # Removing it brings back the default, and tells followers.
    post(owner, remove_avatar="on")
    assert actor(client)["icon"]["url"] == f"{BASE_URL}/static/avatar.png"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AVATARS)).scalar_one() == 0
    assert len(updates(engine)) == 3


@pytest.fixture
def owner_app(database_url, key_pair, password_hash):
    """``owner_app(**config)``: the owner's logged-in client and the engine of an app made with that config."""
    from linkblog import create_app
    from linkblog.models import Owner
    from tests.support.app import csrf_of, login

    engines = []

    def make(**config: Any) -> tuple[Any, Any]:
        app = create_app(make_config(database_url, **config))
        app.config["TESTING"] = True
        engine = app.extensions["linkblog"].engine
        engines.append(engine)
        with engine.begin() as conn:
            conn.execute(insert(Owner).values(id=1, username="owner", display_name="", summary="",
                                              password_hash=password_hash, session_epoch=1,
                                              private_key_pem=key_pair[0], public_key_pem=key_pair[1]))
        client = app.test_client()
        login(client)
        client.csrf = csrf_of(client)
        return client, engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def small_limits(owner_app):
    """An app whose avatar limits are tiny, to reach them with small files."""
    return owner_app(**{"site.avatar_max_bytes": 20_000, "site.avatar_max_pixels": 1_000_000})


def test_each_setting_says_where_its_value_comes_from_only_when_it_was_set(owner_app):
    """A new site's defaults carry no note; a value set in config.toml says so; a saved one says it was saved here."""
    owner, _ = owner_app(**{"site.title": "Ada's links"})

    def notes() -> dict[str, str]:
        page = owner.get("/admin/settings").get_data(as_text=True)
        labels = dict(re.findall(r'<label for="(\w+)">(.*?)</label>', page))
        return {field: next((n for n in ("saved here", "from config.toml") if f"({n})" in labels[field]), "")
                for field in ("title", "description", "timezone")}

    assert notes() == {"title": "from config.toml", "description": "", "timezone": ""}
    assert post(owner, description="What Ada read.").status_code == 303
    assert notes() == {"title": "from config.toml", "description": "saved here", "timezone": ""}
    page = owner.get("/admin/settings").get_data(as_text=True)
    assert page.count("saved here") == 1
    assert "(from config.toml)" not in re.search(r'<label for="timezone">.*?</label>', page, re.S).group(0)


def test_too_large_files_and_decompression_bombs_are_refused(small_limits):
    owner, engine = small_limits
    noisy = io.BytesIO()
    Image.effect_noise((200, 200), 100).convert("RGB").save(noisy, "PNG")  # noise does not compress
    assert 20_000 < len(noisy.getvalue()) < 200_000
    response = post(owner, avatar=noisy.getvalue(), filename="big.png")
    assert response.status_code == 400
    assert "The avatar file is larger than 20 kB, the most accepted ([site] avatar_max_bytes): choose a smaller " \
           "image." in response.get_data(as_text=True)
    huge = io.BytesIO()  # so far over that the request itself is cut off: still the form, with the reason
    Image.effect_noise((700, 700), 100).convert("RGB").save(huge, "PNG")
    response = post(owner, avatar=huge.getvalue(), filename="huge.png")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "The avatar file is larger than 20 kB" in page and "Save settings" in page

    bomb = io.BytesIO()  # 5000 x 5000 of one colour: tiny on disk, 25 million pixels (100 MB) decoded
    Image.new("1", (5000, 5000)).save(bomb, "PNG", optimize=True)
    assert len(bomb.getvalue()) < 20_000
    response = post(owner, avatar=bomb.getvalue(), filename="bomb.png")
    assert response.status_code == 400
    assert "The avatar is 5000x5000 pixels; the most accepted is 1,000,000 pixels" in response.get_data(as_text=True)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AVATARS)).scalar_one() == 0


# --- readers: the follow box, /follow and /about ----------------------------------------------------------


def test_every_public_page_offers_the_handle_follow_and_feeds(client, owner, make_bookmark):
    item = make_bookmark("https://example.org/a", "A page", tags="web")
    for path in ("/", f"/bookmarks/{item}", "/tags/", "/tags/web", "/weeknotes/", "/search?q=page", "/feeds/",
                 "/about"):
        page = client.get(path).get_data(as_text=True)
        assert f"<code>{HANDLE}</code>" in page, path
        assert f'data-copy="{HANDLE}" hidden' in page, path  # the copy button appears with the script
        assert 'href="/follow" data-follow-dialog="follow-dialog"' in page, path
        assert '<form method="get" action="/follow" class="follow-form">' in page, path
        assert '<script src="/static/follow.js" defer></script>' in page, path
        assert 'href="/feeds/"' in page, path
    for path in ("/admin/", "/admin/settings", "/save"):
        assert 'data-follow-dialog' not in owner.get(path).get_data(as_text=True), path
    script = client.get("/static/follow.js")
    assert script.status_code == 200 and "showModal" in script.get_data(as_text=True)
    # The follow form redirects to the reader's server: browsers check that redirect against form-action.
    assert "form-action 'self' https:;" in client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self';" in client.get("/").headers["Content-Security-Policy"]
    for path in ("/admin/settings", "/save"):  # the owner's forms still go nowhere but here
        assert "form-action 'self';" in owner.get(path).headers["Content-Security-Policy"], path


@pytest.mark.parametrize("typed, host", [
    ("mastodon.social", "mastodon.social"),
    ("  Mastodon.Social ", "mastodon.social"),
    ("https://fosstodon.org/", "fosstodon.org"),
    ("@me@hachyderm.io", "hachyderm.io"),
    ("me@social.example.co.uk", "social.example.co.uk"),
    ("bücher.example", "xn--bcher-kva.example"),
])
def test_follow_sends_the_reader_to_their_servers_interaction_page(client, typed, host):
    response = client.get("/follow", query_string={"server": typed})
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", host, "/authorize_interaction")
    assert parse_qs(location.query) == {"uri": [f"{BASE_URL}/actor"]}


@pytest.mark.parametrize("typed", [
    "evil.example/phish", "http://evil.example", "https://evil.example/path", "//evil.example", "127.0.0.1",
    "[::1]", "localhost", "evil.example:8443", "user:pass@evil.example", "a@b@evil.example", "javascript:alert(1)",
    "evil.example\r\nSet-Cookie: x=1", "-bad-.example", "evil..example", "x" * 64 + ".example", "evil.123",
])
def test_follow_refuses_anything_but_a_server_name(client, typed):
    response = client.get("/follow", query_string={"server": typed})
    assert response.status_code == 400
    assert "Location" not in response.headers
    page = response.get_data(as_text=True)
    assert "is not a server name" in page and 'aria-invalid="true"' in page


def test_follow_without_a_server_is_the_no_script_page(client):
    response = client.get("/follow")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"<code>{HANDLE}</code>" in page and 'name="server"' in page and 'href="/feeds/all.atom"' in page


def test_the_about_page_shows_bio_handle_feeds_and_public_counts(client, owner, engine, make_bookmark):
    post(owner, display_name="Ada", bio="Reading *everything*.")
    make_bookmark("https://example.org/1", "One")
    make_bookmark("https://example.org/2", "Two")
    make_bookmark("https://example.org/3", "Three", visibility="private")
    add_follower(engine, "amy", "one.example")
    add_follower(engine, "dan", "two.example", state="pending")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(BOOKMARKS)).scalar_one() == 3
    page = client.get("/about").get_data(as_text=True)
    assert '<h1 class="page-title p-name">Ada</h1>' in page
    assert "<p>Reading <em>everything</em>.</p>" in page
    assert f"<code>{HANDLE}</code>" in page
    assert '<a href="/">2 links</a>' in page and "1 follower on the fediverse" in page
    assert 'href="/feeds/all.atom"' in page and 'href="/feeds/all.json"' in page
    assert client.get("/actor/followers", headers=ACTIVITY_JSON).get_json()["totalItems"] == 1


def test_our_subscribe_template_leads_the_owner_to_the_follow_form(client, owner):
    jrd = client.get("/.well-known/webfinger?resource=acct:owner@links.test").get_json()
    template = next(link["template"] for link in jrd["links"]
                    if link["rel"] == "http://ostatus.org/schema/1.0/subscribe")
    path = template.replace("{uri}", "https%3A%2F%2Fremote.example%2Fusers%2Fzed").removeprefix(BASE_URL)
    response = owner.get(path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/following?account=https%3A%2F%2Fremote.example%2Fusers%2Fzed"
    form = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="https://remote.example/users/zed"' in form
    assert client.get(path).status_code == 303  # a reader is sent on too, and the owner's page asks to log in


def test_pages_still_render_from_config_when_the_settings_cannot_be_read(client, engine, make_bookmark):
    """A database not upgraded yet (or failing) costs the saved settings and the follow box, not the page."""
    make_bookmark("https://example.org/kept", "Still here")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE settings"))
        conn.execute(text("DROP TABLE avatars"))
    try:
        page = client.get("/")
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert "<title>My links</title>" in body and "Still here" in body and "follow-bar" not in body
    finally:  # the PostgreSQL database is emptied and used again by the next test
        SETTINGS.metadata.create_all(engine, tables=[SETTINGS, AVATARS])
