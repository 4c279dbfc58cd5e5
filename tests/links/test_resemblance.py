"""Page text and resemblance (``links/resemblance.py``): what counts as the same page and what as changed
beyond recognition, from texts or from the compact fingerprint."""
from __future__ import annotations

import random

from linkblog.links.resemblance import MIN_WORDS, fingerprint, page_text, resemblance
from tests.support.links import LINKS

SETTINGS = LINKS  # the config fixture's (tests/links/conftest.py)


def _text(seed: int, n: int = 600) -> str:
    rng = random.Random(seed)
    vocabulary = [f"word{i}" for i in range(3000)]
    return " ".join(rng.choice(vocabulary) for _ in range(n))


def test_page_text_leaves_out_scripts_styles_navigation_and_decodes_entities() -> None:
    body = (b"<html><head><title>T</title><style>p{}</style><script>var x = 1</script></head><body>"
            b"<nav>Home About</nav><p>Caf&eacute; &amp; <b>bar</b></p><br/><footer>(c) 2026</footer></body></html>")
    assert page_text(body, "text/html; charset=utf-8") == "Caf\u00e9 & bar"
    assert page_text("caf\u00e9".encode("latin-1"), "text/plain; charset=latin-1") == "caf\u00e9"
    assert page_text(b"<p>unclosed <div><<<>>", "text/html").startswith("unclosed")   # broken markup: no crash


def test_small_edits_resemble_and_a_new_page_does_not() -> None:
    original = _text(1)
    reference = fingerprint(original)
    assert len(reference) < 1200
    edited = original.replace(original.split()[10], "changed", 1) + " a new footer line"
    assert resemblance(original, reference) == 1.0
    assert resemblance(edited, reference) > 0.9
    assert resemblance(_text(2), reference) < 0.05
    half = " ".join(original.split()[:300] + _text(3).split()[:300])
    assert 0.2 < resemblance(half, reference) < 0.5


def test_a_saved_copys_text_can_be_the_reference() -> None:
    original = _text(4)
    assert resemblance(original, original, reference_is_fingerprint=False) == 1.0
    assert resemblance(_text(5), original, reference_is_fingerprint=False) < 0.05


def test_too_short_to_judge() -> None:
    short = " ".join(["word"] * (MIN_WORDS - 1))
    assert fingerprint(short) == ""
    assert resemblance(short, fingerprint(_text(6))) is None
    assert resemblance(_text(6), "") is None
