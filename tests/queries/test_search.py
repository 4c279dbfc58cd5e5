"""/search through the app, on SQLite (FTS5) and PostgreSQL (tsvector): what is found, in what order, by whom."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from linkblog.models import Bookmark


def found(client, q: str, **params) -> list[int]:  # noqa: ANN001
    """Bookmark ids on the result page, in the order shown."""
    response = client.get("/search", query_string={"q": q, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    permalinks = re.findall(r'<a class="[^"]*\bu-url\b[^"]*" href="/bookmarks/(\d+)"', response.get_data(as_text=True))
    return [int(i) for i in permalinks]


def test_empty_search_shows_the_help(client):
    for response in (client.get("/search"), client.get("/search?q=%20%20")):
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Type words into the search box" in body
        assert "double quotes" in body and "minus sign" in body


@pytest.mark.parametrize("field, value, q", [
    ("title", "Understanding lifetimes", "lifetimes"),
    ("annotation", "A *careful* look at borrowing rules.", "borrowing"),
    ("quote", "The compiler is your friend", "compiler friend"),
    ("url", "https://blog.example.net/posts/zebrafish-genome", "zebrafish"),
    ("url", "https://blog.example.net/posts/zebrafish-genome", "example.net"),
    ("tags", "ownership, systems", "ownership"),
])
def test_finds_by_every_field(make_bookmark, client, field: str, value: str, q: str):
    wanted = make_bookmark(**{field: value}, federate=True)
    make_bookmark(title="Something else entirely", annotation="Nothing relevant.", federate=True)
    assert found(client, q) == [wanted]


def test_results_render_as_bookmarks_with_a_heading(make_bookmark, client):
    make_bookmark("https://tokio.example/tutorial", title="Tokio tutorial", tags="async", federate=True)
    body = client.get("/search?q=tokio").get_data(as_text=True)
    assert "Search results for “tokio”" in body
    assert "h-entry" in body and "https://tokio.example/tutorial" in body and 'href="/tags/async"' in body
    assert 'name="q" value="tokio"' in body


def test_no_results_says_so(make_bookmark, client):
    make_bookmark(title="Tokio tutorial", federate=True)
    body = client.get("/search?q=haskell").get_data(as_text=True)
    assert "No links match this search" in body
    assert "h-entry" not in body


def test_title_match_ranks_above_quote_only_match(make_bookmark, client):
    in_title = make_bookmark(title="Gardening for beginners", federate=True)
    in_quote = make_bookmark(title="A long essay", quote="she mentioned gardening once in passing", federate=True)
    assert found(client, "gardening") == [in_title, in_quote]


def test_equal_matches_are_newest_first(make_bookmark, client):
    older = make_bookmark("https://example.org/x", title="Weekly notes about kites", federate=True)
    newer = make_bookmark("https://example.org/y", title="Weekly notes about kites", federate=True)
    assert found(client, "kites") == [newer, older]


def test_phrase_matches_adjacent_words_only(make_bookmark, client):
    adjacent = make_bookmark(title="Building a static site in an afternoon", federate=True)
    apart = make_bookmark(title="The site went static after the outage", federate=True)
    assert sorted(found(client, "static site")) == sorted([adjacent, apart])
    assert found(client, '"static site"') == [adjacent]


def test_excluded_words_and_phrases_remove_results(make_bookmark, client):
    plain = make_bookmark(title="Python packaging guide", federate=True)
    django = make_bookmark(title="Python web apps with Django", federate=True)
    news = make_bookmark(title="Python on Hacker News", federate=True)
    assert sorted(found(client, "python")) == sorted([plain, django, news])
    assert sorted(found(client, "python -django")) == sorted([plain, news])
    assert found(client, 'python -django -"hacker news"') == [plain]


def test_stemming_finds_other_forms(make_bookmark, client):
    run = make_bookmark(title="How to run a marathon", federate=True)
    assert found(client, "running") == [run]
    assert found(client, "runs") == [run]


def test_accented_words_are_found(make_bookmark, client):
    cafe = make_bookmark(title="The best café in Zürich", federate=True)
    assert found(client, "café") == [cafe]
    assert found(client, "CAFÉ zürich") == [cafe]


def test_operator_words_are_searched_as_words(make_bookmark, client):
    title = make_bookmark(title="NEAR protocol and title: colons", annotation="grep -v or not", federate=True)
    make_bookmark(title="Unrelated", federate=True)
    assert found(client, "NEAR(protocol") == [title]
    assert found(client, "title: colons*") == [title]


@pytest.mark.parametrize("visibility", ["unlisted", "followers", "private"])
def test_only_public_bookmarks_are_found_by_readers(owner, make_bookmark, client, visibility: str):
    public = make_bookmark(title="Lighthouse keeping", visibility="public", federate=True)
    hidden = make_bookmark(title="Lighthouse secrets", annotation="more lighthouse", visibility=visibility,
                           federate=True)
    assert found(client, "lighthouse") == [public]
    assert found(client, "secrets") == []
    assert "Lighthouse secrets" not in client.get("/search?q=lighthouse").get_data(as_text=True)
    assert sorted(found(owner, "lighthouse")) == sorted([public, hidden])
    body = owner.get("/search?q=secrets").get_data(as_text=True)
    assert f'<span class="badge">{visibility}</span>' in body


def test_hidden_bookmarks_do_not_push_public_ones_off_the_page(owner, make_bookmark, client):
    """The page is filled with what the reader may see; hidden matches are not counted in."""
    hidden = [make_bookmark(title=f"Orchid care {i}", visibility="private", federate=True) for i in range(6)]
    public = make_bookmark(title="Orchid care public", federate=True)
    assert found(client, "orchid") == [public]
    body = client.get("/search?q=orchid").get_data(as_text=True)
    assert 'rel="next"' not in body
    assert len(found(owner, "orchid")) == 5 and set(found(owner, "orchid", page=2)) <= set(hidden + [public])


def test_edits_are_reindexed(owner, make_bookmark, client):
    bookmark_id = make_bookmark(title="Sourdough starter", tags="baking", federate=True)
    data = {"url": "https://example.org/bread", "title": "Focaccia recipe", "annotation": "", "quote": "",
            "tags": "cooking", "visibility": "public", "csrf_token": owner.csrf}
    assert owner.post(f"/bookmarks/{bookmark_id}/edit", data=data).status_code == 302
    assert found(client, "sourdough") == []
    assert found(client, "baking") == []
    assert found(client, "focaccia") == [bookmark_id]
    assert found(client, "cooking") == [bookmark_id]
    assert found(client, "bread") == [bookmark_id]
    owner.post(f"/bookmarks/{bookmark_id}/edit", data={**data, "visibility": "private"})
    assert found(client, "focaccia") == []
    assert found(owner, "focaccia") == [bookmark_id]


def test_deleted_bookmarks_vanish(owner, make_bookmark, client, engine):
    bookmark_id = make_bookmark(title="Temporary page about quasars", federate=True)
    assert found(client, "quasars") == [bookmark_id]
    assert owner.post(f"/bookmarks/{bookmark_id}/delete", data={"csrf_token": owner.csrf}).status_code == 302
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Bookmark)).scalar() == 0
    assert found(client, "quasars") == []
    assert found(owner, "quasars") == []


def test_pages_are_numbered_with_next_and_prev(make_bookmark, client):
    ids = [make_bookmark(title=f"Volcano report {i}", federate=True) for i in range(7)]  # page size is 5 in tests
    first = client.get("/search?q=volcano").get_data(as_text=True)
    assert 'rel="next" href="/search?q=volcano&amp;page=2"' in first
    assert 'rel="prev"' not in first
    second = client.get("/search?q=volcano&page=2").get_data(as_text=True)
    assert 'rel="prev" href="/search?q=volcano"' in second
    assert 'rel="next"' not in second
    shown = found(client, "volcano") + found(client, "volcano", page=2)
    assert sorted(shown) == sorted(ids) and len(shown) == 7
    beyond = client.get("/search?q=volcano&page=3")
    assert beyond.status_code == 200
    assert "There are no more results" in beyond.get_data(as_text=True)


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "99999", "１"])
def test_bad_page_numbers_are_a_400(client, page: str):
    response = client.get("/search", query_string={"q": "volcano", "page": page})
    assert response.status_code == 400
    assert "page number must be a whole number" in response.get_data(as_text=True)


@pytest.mark.parametrize("q", ["-rust", '-"rust lang"', "*", "'", "\\", ";--", '"', "-NOT", "( ) : ^"])
def test_nothing_to_search_for_is_a_400(client, q: str):
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 400
    assert "Add at least one word to search for" in response.get_data(as_text=True)


def test_over_long_search_is_a_400(client):
    response = client.get("/search", query_string={"q": "word " * 101})
    assert response.status_code == 400
    assert "the limit is 500" in response.get_data(as_text=True)


HOSTILE = ['"', 'NEAR(', 'NEAR(a b', '*', "'", "\\", ";--", "a'b", "x\\y", "rust;--", "title:rust",
           "{title}: rust", "rust^2", '"unclosed phrase', 'a""b', "rust\x00go", "' OR 1=1 --", "%", "_", "a&b|c!d",
           "<script>", "a:*", "!!rust", "x" * 500, " ".join(["w"] * 250), "\u0301", "𝔘𝔫𝔦", "😀 rust", "the",
           "the -rust", "rust -\"", "-\"\""]


def test_hostile_input_never_fails(owner, make_bookmark, client):
    make_bookmark(title="Rust and go, the languages", federate=True)
    for q in HOSTILE:
        for viewer in (client, owner):
            response = viewer.get("/search", query_string={"q": q})
            assert response.status_code in (200, 400), q
            assert "<script>" not in response.get_data(as_text=True)
    assert found(client, "rust;--") == found(client, '"rust') == found(client, "!!rust") != []


def test_stop_words_alone_with_exclusions_do_not_match_everything(make_bookmark, client):
    make_bookmark(title="The the the", federate=True)
    make_bookmark(title="Other words", federate=True)
    assert "Other words" not in client.get("/search?q=the+-rust").get_data(as_text=True)


def all_pages(client, q: str) -> list[int]:  # noqa: ANN001
    shown: list[int] = []
    for page in range(1, 50):
        ids = found(client, q, page=page)
        if not ids:
            return shown
        shown += ids
    raise AssertionError("too many pages")


def test_many_hidden_matches_do_not_hide_the_public_one(client, owner, make_bookmark):
    public = make_bookmark(title="Nebula photographs", visibility="public")
    hidden = [make_bookmark(title="Nebula photographs", visibility=v)
              for v in ["private", "followers", "unlisted"] * 12]
    assert found(client, "nebula") == [public]
    assert all_pages(client, "nebula") == [public]
    everything = all_pages(owner, "nebula")
    assert sorted(everything) == sorted(hidden + [public])


def test_equal_scores_are_ordered_by_saved_time_across_pages(client, make_bookmark):
    start = datetime(2026, 1, 1)
    # ids rise while the saved times fall, so "newest first" is "lowest id first" here.
    ids = [make_bookmark(title="Identical comet note", created_at=start - timedelta(days=i)) for i in range(30)]
    assert found(client, "comet") == ids[:5]
    assert all_pages(client, "comet") == ids


def test_paging_through_ranked_results_shows_each_once(client, make_bookmark):
    rows = [{"title": "Glacier " + "ice " * (i % 4), "annotation": "glacier melt " * (i % 3),
             "quote": "glacier" if i % 5 == 0 else "", "visibility": "private" if i % 7 == 0 else "public"}
            for i in range(40)]
    ids = [make_bookmark(**row) for row in rows]
    visible = [i for i, row in zip(ids, rows) if row["visibility"] == "public"]
    shown = all_pages(client, "glacier")
    assert len(shown) == len(set(shown)) and sorted(shown) == sorted(visible)


def test_postgres_keeps_the_search_vector_in_the_row(engine):
    """Ranking reads every match's vector; it must not need a TOAST lookup each (see migration 0002)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL storage only")
    with engine.connect() as conn:
        storage = conn.execute(text("SELECT attstorage FROM pg_attribute WHERE attrelid = 'bookmarks'::regclass "
                                    "AND attname = 'search_vector'")).scalar_one()
    assert storage == "m"


def test_searches_ignore_accents_both_ways(make_bookmark, client):
    """Issue 13: "cafe" finds "Café" and "naïve" finds "naive", on SQLite and PostgreSQL alike."""
    cafe = make_bookmark(title="The best Café in town", federate=True)
    naive = make_bookmark(title="A naive Bayes classifier", federate=True)
    crepe = make_bookmark(title="Notes", annotation="Crêpes and the Zürich tram", federate=True)
    assert found(client, "cafe") == [cafe]
    assert found(client, "CAFE") == [cafe]
    assert found(client, "naïve") == [naive]
    assert found(client, "crepes zurich") == [crepe]
    assert found(client, '"crêpes and the zurich"') == [crepe]


def test_decomposed_accents_in_stored_text_are_found(make_bookmark, client):
    decomposed = make_bookmark(title="Cafe\u0301 society", federate=True)  # "e" + combining acute, as some pastes are
    assert found(client, "cafe") == [decomposed]
    assert found(client, "café") == [decomposed]


def test_excluded_accented_word_is_excluded_unaccented(make_bookmark, client):
    plain = make_bookmark(title="Coffee shops", federate=True)
    make_bookmark(title="Coffee shops and a café", federate=True)
    assert found(client, "coffee -cafe") == [plain]


def test_title_and_tag_matches_come_first_then_the_rest_newest_first(make_bookmark, client):
    in_tags = make_bookmark(title="Something", tags=["orchids"], federate=True)
    in_annotation = make_bookmark(title="Greenhouse log", annotation="the orchids bloomed", federate=True)
    in_title = make_bookmark(title="Orchids of the Andes", federate=True)
    in_quote = make_bookmark(title="Essay", quote="orchids everywhere", federate=True)
    in_address = make_bookmark("https://example.org/orchids", title="A page", federate=True)
    shown = all_pages(client, "orchids")
    assert shown[:2] == [in_title, in_tags]  # PostgreSQL: newest first; SQLite: bm25 weighs the title above tags
    assert sorted(shown[2:]) == sorted([in_address, in_quote, in_annotation])


def test_excluded_words_apply_to_title_matches_too(make_bookmark, client):
    kept = make_bookmark(title="Orchids", annotation="grown at home", federate=True)
    make_bookmark(title="Orchids", annotation="grown in a greenhouse", federate=True)
    make_bookmark(title="Essay", annotation="orchids in a greenhouse", federate=True)
    assert found(client, "orchids -greenhouse") == [kept]


def test_pages_cross_from_title_matches_to_the_rest_exactly(make_bookmark, client):
    titled = [make_bookmark(title=f"Lanterns {i}", federate=True) for i in range(12)]
    noted = [make_bookmark(title=f"Entry {i}", annotation="paper lanterns", federate=True) for i in range(12)]
    expected = titled[::-1] + noted[::-1]
    assert all_pages(client, "lanterns") == expected
    # a page that starts inside the second tier, reached directly
    size = len(found(client, "lanterns"))
    third = found(client, "lanterns", page=3)
    assert third == expected[2 * size:3 * size]
