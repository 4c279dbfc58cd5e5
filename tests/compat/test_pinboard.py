"""linkblog/compat/pinboard.py: Pinboard's parameter types, the time format, the post mapping and the log
redaction, as plain functions."""
from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime

import pytest

from linkblog.compat import pinboard as pb
from linkblog.compat.pinboard import PinboardError

NOW = datetime(2026, 12, 7, 10, 0, 0)


@pytest.mark.parametrize(("text", "expected"), [("yes", True), ("no", False), ("YES", True), (" no ", False),
                                                ("1", True), ("0", False), (None, "default"), ("", "default")])
def test_yes_no(text, expected):
    assert pb.yes_no(text, "shared", "default") == expected


@pytest.mark.parametrize("text", ["true", "false", "y", "on", "2"])
def test_yes_no_refuses_anything_else(text):
    with pytest.raises(PinboardError, match="^shared must be yes or no$"):
        pb.yes_no(text, "shared")


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-01T09:30:00Z", datetime(2026, 12, 1, 9, 30)),
    ("2026-12-01T09:30Z", datetime(2026, 12, 1, 9, 30)),
    ("2026-12-01T09:30:00.75Z", datetime(2026, 12, 1, 9, 30)),
    ("2026-12-01T10:30:00+01:00", datetime(2026, 12, 1, 9, 30)),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1)),
    ("2026-12-07T10:09:59Z", datetime(2026, 12, 7, 10, 9, 59)),   # within ten minutes ahead: kept
    ("2026-12-07T10:10:01Z", NOW),                                 # further ahead: now
])
def test_parse_datetime(text, expected):
    assert pb.parse_datetime(text, "dt", NOW) == expected


@pytest.mark.parametrize("text", ["2026-12-01", "2026-12-01 09:30:00", "2026-12-01T09:30:00", "tomorrow",
                                  "2026-02-30T00:00:00Z", "2100-01-01T00:00:00Z", ""])
def test_parse_datetime_refuses(text):
    with pytest.raises(PinboardError, match="^dt must be"):
        pb.parse_datetime(text, "dt", NOW)


def test_parse_date_takes_a_date_or_a_whole_time():
    assert pb.parse_date("2026-12-07", "dt") == date(2026, 12, 7)
    assert pb.parse_date("2026-12-07T23:59:00Z", "dt") == date(2026, 12, 7)
    for bad in ("07.12.2026", "2026-12-32", "yesterday"):
        with pytest.raises(PinboardError, match="^dt must be a date like 2026-12-07$"):
            pb.parse_date(bad, "dt")


def test_format_time_keeps_four_digit_years():
    assert pb.format_time(datetime(2026, 12, 7, 10, 0, 5, 123)) == "2026-12-07T10:00:05Z"
    assert pb.format_time(datetime(33, 1, 2, 3, 4, 5)) == "0033-01-02T03:04:05Z"


def test_split_token():
    assert pb.split_token("ada:lb_abc") == ("ada", "lb_abc")
    for bad in ("lb_abc", ":lb_abc", "ada:", "ada:lb:abc"):
        assert pb.split_token(bad) is None


def test_post_mapping_hash_and_meta():
    item = {"url": "https://example.org/", "title": "T", "annotation": "A", "tags_text": "a b",
            "visibility": "unlisted", "toread": True, "created_at": datetime(2026, 1, 2, 3, 4, 5)}
    post = pb.post(item)
    assert {k: v for k, v in post.items() if k != "meta"} == {
        "href": "https://example.org/", "description": "T", "extended": "A", "hash": hashlib.md5(b"https://example.org/").hexdigest(),
        "time": "2026-01-02T03:04:05Z", "shared": "no", "toread": "yes", "tags": "a b"}
    assert pb.post({**item, "visibility": "public"})["shared"] == "yes"
    assert pb.post({**item, "toread": False})["meta"] != post["meta"]
    assert pb.post(dict(item))["meta"] == post["meta"]


def test_answers_render_as_pinboard_documents():
    assert pb.result_code("done").render("json") == ('{"result_code": "done"}', "text/json")
    body, media = pb.result_code("done").render("xml")
    assert media == "text/xml" and body == '<?xml version="1.0" encoding="UTF-8" ?>\n<result code="done" />\n'
    assert pb.result("done").render("xml")[0].endswith("<result>done</result>\n")
    assert pb.update_time(datetime(2026, 1, 1)).render("json")[0] == '{"update_time": "2026-01-01T00:00:00Z"}'


@pytest.mark.parametrize(("line", "expected"), [
    ('127.0.0.1 - - "GET /v1/posts/recent?auth_token=ada:lb_s3cret&format=json HTTP/1.1" 200',
     '127.0.0.1 - - "GET /v1/posts/recent HTTP/1.1" 200'),
    ("GET /v1?auth_token=ada:lb_s3cret HTTP/1.1", "GET /v1 HTTP/1.1"),
    ("Error handling request /v1/posts/add?url=x&auth_token=ada:lb_s3cret", "Error handling request /v1/posts/add"),
    ("GET /api/bookmarks?x=1&auth_token=ada:lb_s3cret HTTP/1.1", "GET /api/bookmarks?x=1&auth_token=[redacted] HTTP/1.1"),
    ("GET /tags/python?page=2 HTTP/1.1", "GET /tags/python?page=2 HTTP/1.1"),
])
def test_redact(line, expected):
    assert pb.redact(line) == expected


def test_the_filter_rewrites_records_with_their_arguments():
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, '"%(r)s" %(s)s',
                               ({"r": "GET /v1/posts/all?auth_token=ada:lb_s3cret HTTP/1.1", "s": "200"},), None)
    assert pb.RedactV1Queries().filter(record) is True
    assert record.getMessage() == '"GET /v1/posts/all HTTP/1.1" 200'
