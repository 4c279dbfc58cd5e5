"""Content negotiation: does a client that reached one of our URLs want ActivityStreams JSON or HTML?

Pure: it takes the Accept header already split into (media type, quality) pairs, so the HTTP layer
decides how to parse headers and this module only decides what the answer means for ActivityPub.
"""
from __future__ import annotations

from collections.abc import Iterable

AP_TYPE = "application/activity+json"
AP_TYPES = frozenset({"application/activity+json", "application/ld+json"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def prefers_activity_json(accepted: Iterable[tuple[str, float]]) -> bool:
    """True when AS2 JSON is acceptable and ranked at least as high as HTML: ties go to JSON (an AP client
    listing HTML too can read both)."""
    ap_quality = html_quality = 0.0
    for value, quality in accepted:
        base = value.split(";", 1)[0].strip().lower()
        if base in AP_TYPES:
            ap_quality = max(ap_quality, quality)
        elif base in HTML_TYPES:
            html_quality = max(html_quality, quality)
    return ap_quality > 0 and ap_quality >= html_quality
