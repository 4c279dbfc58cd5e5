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


def test_page_text_follows_the_parsers_rules_for_left_out_regions() -> None:
    """Nested left-out elements, self-closing ones, raw script text that looks like markup, comments that
    hold tags, and upper-case tag names: only the words a reader sees are left."""
    body = (b"<BODY><p>one</p><NAV>skip <nav>inner</nav> still skipped</NAV><p>two</p><svg/><p>three</p>"
            b"<script>if (a < b) { x = '</div><nav>'; }</script><p>four</p><!-- <footer> -->"
            b"<p>five &lt;b&gt; 6 < 7</p><footer><form><input></form>bye</footer><p>six</p></BODY>")
    assert page_text(body, "text/html") == "one two three four five <b> 6 < 7 six"


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


def _fingerprint_as_stored_before_v2(text: str) -> str:
    """The fingerprint older releases stored (bare hex: one BLAKE2b per joined shingle), written out here
    so that a change to the module cannot change both sides of the comparison."""
    import hashlib
    import re

    found = [w.casefold() for w in re.findall(r"\w+", text)]
    grams = {" ".join(found[i:i + 3]) for i in range(len(found) - 2)}
    return " ".join(sorted(hashlib.blake2b(g.encode(), digest_size=4).hexdigest() for g in grams)[:128])


def test_fingerprints_stored_by_older_releases_are_still_compared_the_way_they_were_made() -> None:
    original = _text(7)
    stored = _fingerprint_as_stored_before_v2(original)
    assert not stored.startswith("v2")
    assert resemblance(original, stored) == 1.0
    edited = original.replace(original.split()[10], "changed", 1) + " a new footer line"
    assert resemblance(edited, stored) > 0.9
    assert resemblance(_text(8), stored) < 0.05
    assert fingerprint(original).startswith("v2 ") and fingerprint(original) != stored


def test_the_fingerprint_is_the_same_without_cpythons_tuple_hash(monkeypatch) -> None:  # noqa: ANN001
    """Where ``hash`` of a tuple differs (another interpreter, a 32-bit build), the Python arithmetic gives the
    same fingerprints, so a database moved between machines keeps its references."""
    from linkblog.links import resemblance as module

    rng = random.Random(3)
    for _ in range(2000):
        lanes = tuple(rng.randrange(1 << 56) for _ in range(rng.choice([1, 2, 3])))
        assert module._xxtuple(lanes) == hash(lanes)
    text = _text(9)
    native = fingerprint(text)
    monkeypatch.setattr(module, "_TUPLE_HASH", module._xxtuple)
    assert fingerprint(text) == native
    assert len(native.split()) == 1 + module.SKETCH_SIZE


def test_a_fingerprint_made_already_gives_the_same_resemblance_as_the_text() -> None:
    """The checker passes the page's fingerprint it also stores, so the text is hashed once: the score must be
    the one the text itself gives, against a copy's text and against a fingerprint; against an older release's
    fingerprint the text is still what counts."""
    original, edited = _text(10), _text(10).replace("word1 ", "other ", 30) + " and a new footer"
    made = fingerprint(edited)
    for reference, is_fingerprint in ((original, False), (fingerprint(original), True)):
        assert resemblance(edited, reference, reference_is_fingerprint=is_fingerprint, now_fingerprint=made) == \
            resemblance(edited, reference, reference_is_fingerprint=is_fingerprint)
    stored_before = _fingerprint_as_stored_before_v2(original)
    assert resemblance(edited, stored_before, now_fingerprint=made) == resemblance(edited, stored_before) > 0.5
