"""Plain items and config for the document builders' tests (objects and activities), no database."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from linkblog.config import load_config

BASE = "http://links.test"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
FOLLOWERS = f"{BASE}/actor/followers"
T0 = datetime(2026, 3, 2, 9, 30, 0)
ACTIVITY_ID = re.compile(rf"^{re.escape(BASE)}/activities/([0-9a-f-]{{36}})$")


def cfg(**federation: object):
    overrides = {("site", "base_url"): BASE, ("security", "secret_key"): "t" * 40}
    overrides.update({("federation", k): v for k, v in federation.items()})
    return load_config(None, environ={}, overrides=overrides)


def bookmark(**fields: object) -> dict:
    item = {"id": 7, "url": "https://example.org/a?b=1&c=2", "title": "An <example>", "annotation_html":
            "<p>Worth <em>reading</em>.</p>", "quote": "exact words\nsecond line", "tags_text": "web python",
            "visibility": "public", "created_at": T0, "updated_at": T0 + timedelta(microseconds=40)}
    item.update(fields)
    return item


def weeknote(**fields: object) -> dict:
    item = {"id": 3, "week": "2026-W10", "title": "Busy week", "body_html": "<p>Links and thoughts.</p>" * 3,
            "status": "published", "visibility": "public", "created_at": T0, "updated_at": T0,
            "published_at": T0}
    item.update(fields)
    return item


def assert_activity_id(value: str) -> None:
    match = ACTIVITY_ID.match(value)
    assert match, value
    uuid.UUID(match.group(1))
