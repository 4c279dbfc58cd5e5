"""Tag names (``linkblog/tags.py``): parsed from text or lists, and refused when malformed."""
from __future__ import annotations

import pytest

from linkblog.tags import InvalidTag, parse_tags


def test_tags_parse_and_validate():
    assert parse_tags("Python, web  #IndieWeb python") == ["python", "web", "indieweb"]
    assert parse_tags(["a", "b-c", "d_e", "c++"]) == ["a", "b-c", "d_e", "c++"]
    for bad in (["two words"], ["bad\x01"], ["x" * 65], ["a/b"], [""], [3]):
        with pytest.raises(InvalidTag):
            parse_tags(bad)
