"""The owner's import/export pages and the public sitemap, on both databases."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from sqlalchemy import event, func, insert, select

from linkblog.models import Bookmark, Weeknote
from linkblog.transfer.formats.entries import ImportedBookmark
from linkblog.transfer.formats.netscape import parse_netscape
from linkblog.transfer.formats.pinboard import parse_pinboard

FIX = Path(__file__).parents[1] / "transfer" / "fixtures" / "bookmarks"
B = Bookmark.__table__
W = Weeknote.__table__
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(B)).scalar_one()


def _upload(client, name: str, data: bytes, token: str | None, **fields):
    form = {"file": (io.BytesIO(data), name), **fields}
    if token is not None:
        form["csrf_token"] = token
    return client.post("/admin/import", data=form, content_type="multipart/form-data")


def test_form_and_dashboard_link(owner):
    page = owner.get("/admin/import").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'name="csrf_token"' in page
    assert '<input id="file" name="file" type="file"' in page
    assert 'href="/admin/import"' in owner.get("/admin/").get_data(as_text=True)


def test_upload_firefox_html(owner, engine):
    data = (FIX / "netscape/firefox-export.html").read_bytes()
    response = _upload(owner, "firefox-export.html", data, owner.csrf, format="auto", duplicates="skip")
    assert response.status_code == 200, response.data
    page = response.get_data(as_text=True)
    assert "27 added" in page and "0 invalid" in page
    assert _count(engine) == 27
    again = _upload(owner, "firefox-export.html", data, owner.csrf, duplicates="skip").get_data(as_text=True)
    assert "0 added" in again and "27 skipped" in again
    assert _count(engine) == 27


def test_upload_pinboard_json(owner, engine):
    data = (FIX / "pinboard/pinboard-export-betula.json").read_bytes()
    response = _upload(owner, "pins.json", data, owner.csrf, format="pinboard", duplicates="merge")
    assert response.status_code == 200
    assert "5 added" in response.get_data(as_text=True)
    assert _count(engine) == 5


def test_upload_chrome_json_detected(owner, engine):
    page = owner.get("/admin/import").get_data(as_text=True)
    assert '<option value="chrome-json">' in page and '<option value="instapaper-csv">' in page
    data = (FIX / "browser-json/chrome-bookmarks-buku.json").read_bytes()
    response = _upload(owner, "Bookmarks", data, owner.csrf, format="auto", duplicates="skip")
    assert response.status_code == 200, response.data
    page = response.get_data(as_text=True)
    assert "14 added" in page and "29 invalid" in page
    assert "item 2 (in Bookmarks bar / SP): Only http and https links can be imported (this one is file:)." in page
    assert _count(engine) == 14
    with engine.connect() as conn:
        voyager = conn.execute(select(B.c.title, B.c.tags_text, B.c.created_at)
                               .where(B.c.url == "http://voyagerlive.org/")).one()
    assert tuple(voyager) == ("Voyager", "bookmarks-bar", datetime(2015, 8, 22, 1, 21, 39))


def test_upload_in_the_wrong_format_is_400(owner, engine):
    data = (FIX / "browser-json/chrome-bookmarks.json").read_bytes()
    response = _upload(owner, "Bookmarks", data, owner.csrf, format="pocket-csv")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "line 1: This is not a Pocket CSV export" in page and "Nothing was imported" in page
    assert '<option value="pocket-csv" selected>' in page
    assert _count(engine) == 0


def test_broken_file_is_400_and_imports_nothing(owner, engine):
    broken = b'[{"href": "https://a.example/", "description": "A"}, {"href": '
    response = _upload(owner, "broken.json", broken, owner.csrf)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'role="alert"' in page and "line 1, column" in page and "Nothing was imported" in page
    assert _count(engine) == 0
    unknown = _upload(owner, "notes.txt", b"just some words", owner.csrf)
    assert unknown.status_code == 400 and "Unrecognised file" in unknown.get_data(as_text=True)


def test_no_file_is_400(owner, engine):
    response = owner.post("/admin/import", data={"csrf_token": owner.csrf}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose a bookmark file" in response.get_data(as_text=True)


def test_login_and_csrf_required(client, owner, engine):
    for path in ("/admin/import", "/admin/export.html", "/admin/export.json"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    data = (FIX / "netscape/firefox-export.html").read_bytes()
    assert _upload(client, "f.html", data, None).status_code in (302, 400)
    assert _upload(owner, "f.html", data, None).status_code == 400
    assert _upload(owner, "f.html", data, "wrong").status_code == 400
    assert _count(engine) == 0


def test_bigger_uploads_allowed_on_import_only(owner, engine):
    big = b"<!DOCTYPE NETSCAPE-Bookmark-file-1>\n" + b"<!-- padding -->\n" * (3 * 1024 * 1024 // 17)
    big += b'<DT><A HREF="https://big.example/">Big</A>\n'
    response = _upload(owner, "big.html", big, owner.csrf)
    assert response.status_code == 200 and "1 added" in response.get_data(as_text=True)
    assert owner.post("/save", data={"csrf_token": owner.csrf, "x": "a" * (3 * 1024 * 1024)}).status_code == 413


def test_exports_parse_back(owner, engine, make_bookmark):
    _upload(owner, "f.html", (FIX / "netscape/firefox-export.html").read_bytes(), owner.csrf)
    make_bookmark("https://secret.example/", tags="hidden", visibility="private")
    with engine.connect() as conn:
        urls = set(conn.execute(select(B.c.url)).scalars())
    assert len(urls) == 28
    for ext, parse in (("html", parse_netscape), ("json", parse_pinboard)):
        response = owner.get(f"/admin/export.{ext}")
        assert response.status_code == 200
        assert re.fullmatch(rf"attachment; filename=linkblog-\d{{4}}-\d{{2}}-\d{{2}}\.{ext}",
                            response.headers["Content-Disposition"])
        items = [i for i in parse(response.get_data(as_text=True)) if isinstance(i, ImportedBookmark)]
        assert {i.url for i in items} == urls
        assert [i.private for i in items if i.url == "https://secret.example/"] == [True]


def _note(engine, week: str, status: str, visibility: str) -> None:
    now = datetime(2024, 1, 10, 12, 0)
    with engine.begin() as conn:
        conn.execute(insert(W).values(week=week, title=week, body="", body_html="", status=status,
                                      visibility=visibility, created_at=now, updated_at=now,
                                      published_at=now if status == "published" else None))


def test_sitemap_lists_exactly_the_public_items(client, engine, make_bookmark, app):
    public = make_bookmark("https://public.example/", tags="shown both")
    unlisted = make_bookmark("https://unlisted.example/", tags="quiet", visibility="unlisted")
    followers = make_bookmark("https://followers.example/", tags="inner", visibility="followers")
    private = make_bookmark("https://private.example/", tags="secret both", visibility="private")
    _note(engine, "2024-W01", "published", "public")
    _note(engine, "2024-W02", "published", "unlisted")
    _note(engine, "2024-W03", "draft", "public")
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    root = ET.fromstring(response.data)
    assert root.tag == f"{SM}urlset"
    locs = [u.find(f"{SM}loc").text for u in root.findall(f"{SM}url")]
    assert all(u.find(f"{SM}lastmod") is not None for u in root.findall(f"{SM}url"))
    paths = sorted(re.sub(r"^https?://[^/]+", "", loc) for loc in locs)
    assert paths == sorted(["/", f"/bookmarks/{public}", "/weeknotes/2024-W01", "/tags/both", "/tags/shown"])
    for hidden in (unlisted, followers, private):
        assert f"/bookmarks/{hidden}" not in paths
    first = len(statements)
    for n in range(5):
        make_bookmark(f"https://more{n}.example/", tags=f"t{n}")
    statements.clear()
    client.get("/sitemap.xml")
    assert len(statements) == first == 3


def test_robots_names_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert re.search(r"^Sitemap: https?://\S+/sitemap\.xml$", response.get_data(as_text=True), re.M)


def test_upload_as_private_with_announce_since(owner, engine):
    from linkblog.models import Follower, OutboxActivity, RemoteActor

    with engine.begin() as conn:
        actor = conn.execute(insert(RemoteActor.__table__).values(
            uri="https://social.example/users/fan", inbox="https://social.example/users/fan/inbox",
            handle="fan@social.example").returning(RemoteActor.__table__.c.id)).scalar_one()
        conn.execute(insert(Follower.__table__).values(actor_id=actor, follow_uri="https://social.example/f",
                                                       state="accepted"))
    data = (b'<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n'
            b'<DT><A HREF="https://old.example/" ADD_DATE="1577836800">Old</A>\n'
            b'<DT><A HREF="https://new.example/" ADD_DATE="1763683200">New</A>\n</DL><p>\n')
    bad = _upload(owner, "b.html", data, owner.csrf, announce_since="yesterday")
    assert bad.status_code == 400 and "is not a date" in bad.get_data(as_text=True) and _count(engine) == 0
    page = _upload(owner, "b.html", data, owner.csrf, announce_since="2025-11-01").get_data(as_text=True)
    assert "2 added" in page and "Sent to followers: 1" in page
    with engine.connect() as conn:
        assert conn.execute(select(OutboxActivity.type)).scalars().all() == ["Create"]
    pocket = b"title,url,time_added,tags,status\nA,https://pocket.example/,1700000000,,unread\n"
    _upload(owner, "p.csv", pocket, owner.csrf)
    other = b'[{"href": "https://public-in-file.example/", "shared": "yes"}]'
    page = _upload(owner, "o.json", other, owner.csrf, private="1").get_data(as_text=True)
    assert 'name="private" value="1" checked' in page
    with engine.connect() as conn:
        visibility = dict(conn.execute(select(B.c.url, B.c.visibility)).all())
    assert visibility == {"https://old.example/": "public", "https://new.example/": "public",
                          "https://pocket.example/": "private", "https://public-in-file.example/": "private"}


def test_folder_names_can_be_left_out_of_the_tags(owner, engine):
    data = (b'<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n<DT><H3>Reading List</H3>\n<DL><p>\n'
            b'<DT><A HREF="https://in-folder.example/" TAGS="own">In a folder</A>\n</DL><p>\n</DL><p>\n')
    page = _upload(owner, "f.html", data, owner.csrf, no_folder_tags="1").get_data(as_text=True)
    assert "1 added" in page and 'name="no_folder_tags" value="1" checked' in page
    with engine.connect() as conn:
        assert conn.execute(select(B.c.tags_text)).scalar_one() == "own"
    with engine.begin() as conn:
        conn.execute(B.delete())
    _upload(owner, "f.html", data, owner.csrf)
    with engine.connect() as conn:
        assert conn.execute(select(B.c.tags_text)).scalar_one() == "own reading-list"


def test_backup_download_is_the_commands_backup_without_keys(owner, client, engine, config):
    import json
    from io import StringIO

    from linkblog.transfer.backup import write_backup

    _upload(owner, "f.html", (FIX / "netscape/firefox-export.html").read_bytes(), owner.csrf)
    response = owner.get("/admin/backup.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert re.fullmatch(r"attachment; filename=linkblog-backup-\d{4}-\d{2}-\d{2}\.json",
                        response.headers["Content-Disposition"])
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    same = StringIO()
    write_backup(engine, config, same, include_keys=False)
    assert body == same.getvalue()
    document = json.loads(body)
    assert document["format"] == "linkblog-backup" and len(document["tables"]["bookmarks"]) == 27
    assert "PRIVATE KEY" not in body and "private_key_pem" not in document["owner"]
    assert 'href="/admin/backup.json"' in owner.get("/admin/import").get_data(as_text=True)
    assert client.get("/admin/backup.json").status_code in (302, 401, 403)  # readers get nothing
