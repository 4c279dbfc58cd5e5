"""HTTP dates (``linkblog/dates.py``): the three forms RFC 9110 allows, and nothing else."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from linkblog.dates import parse_http_date


@pytest.mark.parametrize("text", ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                                  "Sun Nov  6 08:49:37 1994"])
def test_http_date_forms(text):
    assert parse_http_date(text) == datetime(1994, 11, 6, 8, 49, 37, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["wrong date", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
                                  "1994-11-06T08:49:37Z", ""])
def test_http_date_rejects_other_text(text):
    assert parse_http_date(text) is None
