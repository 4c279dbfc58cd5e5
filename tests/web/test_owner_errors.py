"""Errors that help: every bad field at once (form and API), the tag rule said as it is, a link to the bookmark that
already has the address, and follow failures in words instead of ``[Errno -2]``."""
from __future__ import annotations

import re
import socket
from html import unescape

import pytest
from sqlalchemy import func, select

from linkblog.models import BOOKMARKS, FOLLOWING
from linkblog.tags import InvalidTag, TAG_RE, clean_tag
from tests.federation.net.servers import FakeDNS


def form(owner, **fields):  # noqa: ANN001, ANN201
    data = {"url": "https://example.org/page", "title": "A page", "annotation": "", "quote": "", "tags": "",
            "visibility": "public", "csrf_token": owner.csrf}
    data.update(fields)
    return data


def alert_items(response) -> list[str]:  # noqa: ANN001
    body = response.get_data(as_text=True)
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', body, re.S)
    assert alert, body
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", li)).split()) for li in re.findall(r"<li>(.*?)</li>", alert.group(1), re.S)]


def count(engine, table) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_the_form_reports_every_bad_field_at_once(owner, engine):
    response = owner.post("/save", data=form(owner, url="javascript:alert(1)", title="t" * 501, quote="q\x00",
                                             tags="ok -bad", visibility="everyone"))
    assert response.status_code == 400
    items = alert_items(response)
    assert len(items) == 5, items
    body = response.get_data(as_text=True)
    for field in ("url", "title", "quote", "tags", "visibility"):
        assert f'href="#{field}"' in body
    assert count(engine, BOOKMARKS) == 0


@pytest.mark.parametrize("tag", ["-x", ".x", "+x", "a/b", "a:b", "ok.", "_x", "x-y.z+1", "Ünïcode", "a#"])
def test_the_tag_message_says_the_rule_the_check_applies(tag: str):
    """Whatever is refused, the message names what the pattern wants: the first character, then the others."""
    name = tag.lower()
    if TAG_RE.match(name):
        assert clean_tag(tag) == name
        return
    with pytest.raises(InvalidTag) as refused:
        clean_tag(tag)
    message = str(refused.value)
    assert "start with a letter, a digit or '_'" in message
    assert "letters, digits, '-', '_', '.' and '+'" in message


def test_already_saved_links_to_the_existing_bookmark(owner, engine, make_bookmark):
    bookmark_id = make_bookmark("https://example.org/page", "The first one")
    response = owner.post("/save", data=form(owner, url="https://EXAMPLE.org/page"))
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert f'<a href="/bookmarks/{bookmark_id}">“The first one”</a>' in body
    assert f'<a href="/bookmarks/{bookmark_id}/edit">edit that bookmark</a>' in body
    other = make_bookmark("https://example.org/other", "Other")
    edited = owner.post(f"/bookmarks/{other}/edit", data=form(owner, url="https://example.org/page"))
    assert edited.status_code == 409
    assert f'<a href="/bookmarks/{bookmark_id}">“The first one”</a>' in edited.get_data(as_text=True)


def test_a_follow_to_a_server_that_does_not_exist_says_so_in_words(owner, engine, monkeypatch):
    """The name does not resolve (the resolver's real ``[Errno -2] Name or service not known``)."""
    monkeypatch.setattr(socket, "getaddrinfo", FakeDNS())
    response = owner.post("/admin/following", data={"account": "@bob@nowhere.example", "csrf_token": owner.csrf})
    assert response.status_code == 400
    words = " ".join(alert_items_or_text(response))
    assert "Could not reach the server of @bob@nowhere.example: that server could not be found" in words
    assert "Errno" not in response.get_data(as_text=True)
    assert count(engine, FOLLOWING) == 0


def alert_items_or_text(response) -> list[str]:  # noqa: ANN001
    body = response.get_data(as_text=True)
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', body, re.S)
    assert alert, body
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", alert.group(1))).split())]
