"""The owner's archive: Archive/Unarchive on a bookmark's page (CSRF-protected forms), /admin/archived, and what
an archived bookmark leaves (the owner's home and reading list) and keeps (its public pages, its feeds)."""
from __future__ import annotations

from sqlalchemy import func, select

from linkblog.models import BOOKMARKS, OUTBOX_ACTIVITIES


def archived(engine, bookmark_id: int) -> bool:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(BOOKMARKS.c.archived).where(BOOKMARKS.c.id == bookmark_id)).scalar_one()


def outbox(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(OUTBOX_ACTIVITIES)).scalar_one()


def test_archive_and_unarchive_from_the_bookmarks_page(owner, engine, make_bookmark, client):
    bookmark_id = make_bookmark("https://example.org/filed", "Filed page", toread=True)
    page = owner.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)
    assert f'action="/bookmarks/{bookmark_id}/archive"' in page
    sent = outbox(engine)
    response = owner.post(f"/bookmarks/{bookmark_id}/archive", data={"csrf_token": owner.csrf})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/archived")
    assert archived(engine, bookmark_id) is True and outbox(engine) == sent
    assert "Filed page" not in owner.get("/").get_data(as_text=True)
    assert "Filed page" not in owner.get("/admin/toread").get_data(as_text=True)
    listing = owner.get("/admin/archived").get_data(as_text=True)
    assert "Filed page" in listing and f'action="/bookmarks/{bookmark_id}/unarchive"' in listing
    assert 'href="/admin/archived"' in listing                       # in the owner's navigation
    assert "Filed page" in client.get("/").get_data(as_text=True)      # readers still see it
    assert "Filed page" in client.get("/feeds/all.atom").get_data(as_text=True)
    assert f'action="/bookmarks/{bookmark_id}/unarchive"' in owner.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)
    response = owner.post(f"/bookmarks/{bookmark_id}/unarchive", data={"csrf_token": owner.csrf})
    assert response.status_code == 302 and archived(engine, bookmark_id) is False
    assert "Filed page" in owner.get("/").get_data(as_text=True)


def test_archiving_needs_the_owner_and_the_forms_token(owner, client, engine, make_bookmark):
    bookmark_id = make_bookmark("https://example.org/kept", "Kept")
    assert owner.post(f"/bookmarks/{bookmark_id}/archive").status_code == 400          # no CSRF token
    assert client.post(f"/bookmarks/{bookmark_id}/archive").status_code in (302, 400)  # a reader: login or CSRF
    assert client.get("/admin/archived").status_code == 302
    assert archived(engine, bookmark_id) is False
    assert owner.post("/bookmarks/999/archive", data={"csrf_token": owner.csrf}).status_code == 404


def test_the_archive_pages_newest_first(owner, make_bookmark, config):
    size = config.get("site", "page_size")
    made = [make_bookmark(f"https://example.org/{n}", f"Archived {n}") for n in range(size + 2)]
    for bookmark_id in made:
        owner.post(f"/bookmarks/{bookmark_id}/archive", data={"csrf_token": owner.csrf})
    first = owner.get("/admin/archived").get_data(as_text=True)
    assert f"Archived {size + 1}" in first and "Archived 0<" not in first and "before=" in first
    assert owner.get("/admin/archived?before=nonsense").status_code == 400
