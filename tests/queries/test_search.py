"""/search through the app, on SQLite (FTS5) and PostgreSQL (tsvector): what is found, in what order, by whom."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import func, select, text

from linkblog import bookmarks
from linkblog.models import Bookmark

_numbers = count(1)


def save(owner, **fields) -> int:  # noqa: ANN001
    """Save a bookmark through the form and return its id."""
    data = {"url": f"https://example.org/page/{next(_numbers)}", "title": "", "annotation": "", "quote": "",
            "tags": "", "visibility": "public", "csrf_token": owner.csrf}
    data.update(fields)
    response = owner.post("/save", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


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
def test_finds_by_every_field(owner, client, field: str, value: str, q: str):
    wanted = save(owner, **{field: value})
    save(owner, title="Something else entirely", annotation="Nothing relevant.")
    assert found(client, q) == [wanted]


def test_results_render_as_bookmarks_with_a_heading(owner, client):
    save(owner, title="Tokio tutorial", url="https://tokio.example/tutorial", tags="async")
    body = client.get("/search?q=tokio").get_data(as_text=True)
    assert "Search results for “tokio”" in body
    assert "h-entry" in body and "https://tokio.example/tutorial" in body and 'href="/tags/async"' in body
    assert 'name="q" value="tokio"' in body


def test_no_results_says_so(owner, client):
    save(owner, title="Tokio tutorial")
    body = client.get("/search?q=haskell").get_data(as_text=True)
    assert "No links match this search" in body
    assert "h-entry" not in body


def test_title_match_ranks_above_quote_only_match(owner, client):
    in_title = save(owner, title="Gardening for beginners")
    in_quote = save(owner, title="A long essay", quote="she mentioned gardening once in passing")
    assert found(client, "gardening") == [in_title, in_quote]


def test_equal_matches_are_newest_first(owner, client):
    older = save(owner, title="Weekly notes about kites", url="https://example.org/x")
    newer = save(owner, title="Weekly notes about kites", url="https://example.org/y")
    assert found(client, "kites") == [newer, older]


def test_phrase_matches_adjacent_words_only(owner, client):
    adjacent = save(owner, title="Building a static site in an afternoon")
    apart = save(owner, title="The site went static after the outage")
    assert sorted(found(client, "static site")) == sorted([adjacent, apart])
    assert found(client, '"static site"') == [adjacent]


def test_excluded_words_and_phrases_remove_results(owner, client):
    plain = save(owner, title="Python packaging guide")
    django = save(owner, title="Python web apps with Django")
    news = save(owner, title="Python on Hacker News")
    assert sorted(found(client, "python")) == sorted([plain, django, news])
    assert sorted(found(client, "python -django")) == sorted([plain, news])
    assert found(client, 'python -django -"hacker news"') == [plain]


def test_stemming_finds_other_forms(owner, client):
    run = save(owner, title="How to run a marathon")
    assert found(client, "running") == [run]
    assert found(client, "runs") == [run]


def test_accented_words_are_found(owner, client):
    cafe = save(owner, title="The best café in Zürich")
    assert found(client, "café") == [cafe]
    assert found(client, "CAFÉ zürich") == [cafe]


def test_operator_words_are_searched_as_words(owner, client):
    title = save(owner, title="NEAR protocol and title: colons", annotation="grep -v or not")
    save(owner, title="Unrelated")
    assert found(client, "NEAR(protocol") == [title]
    assert found(client, "title: colons*") == [title]


@pytest.mark.parametrize("visibility", ["unlisted", "followers", "private"])
def test_only_public_bookmarks_are_found_by_readers(owner, client, visibility: str):
    public = save(owner, title="Lighthouse keeping", visibility="public")
    hidden = save(owner, title="Lighthouse secrets", annotation="more lighthouse", visibility=visibility)
    assert found(client, "lighthouse") == [public]
    assert found(client, "secrets") == []
    assert "Lighthouse secrets" not in client.get("/search?q=lighthouse").get_data(as_text=True)
    assert sorted(found(owner, "lighthouse")) == sorted([public, hidden])
    body = owner.get("/search?q=secrets").get_data(as_text=True)
    assert f'<span class="badge">{visibility}</span>' in body


def test_hidden_bookmarks_do_not_push_public_ones_off_the_page(owner, client):
    """The page is filled with what the reader may see; hidden matches are not counted in."""
    hidden = [save(owner, title=f"Orchid care {i}", visibility="private") for i in range(6)]
    public = save(owner, title="Orchid care public")
    assert found(client, "orchid") == [public]
    body = client.get("/search?q=orchid").get_data(as_text=True)
    assert 'rel="next"' not in body
    assert len(found(owner, "orchid")) == 5 and set(found(owner, "orchid", page=2)) <= set(hidden + [public])


def test_edits_are_reindexed(owner, client):
    bookmark_id = save(owner, title="Sourdough starter", tags="baking")
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


def test_deleted_bookmarks_vanish(owner, client, engine):
    bookmark_id = save(owner, title="Temporary page about quasars")
    assert found(client, "quasars") == [bookmark_id]
    assert owner.post(f"/bookmarks/{bookmark_id}/delete", data={"csrf_token": owner.csrf}).status_code == 302
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Bookmark)).scalar() == 0
    assert found(client, "quasars") == []
    assert found(owner, "quasars") == []


def test_pages_are_numbered_with_next_and_prev(owner, client):
    ids = [save(owner, title=f"Volcano report {i}") for i in range(7)]  # page size is 5 in tests
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


def test_hostile_input_never_fails(owner, client):
    save(owner, title="Rust and go, the languages")
    for q in HOSTILE:
        for viewer in (client, owner):
            response = viewer.get("/search", query_string={"q": q})
            assert response.status_code in (200, 400), q
            assert "<script>" not in response.get_data(as_text=True)
    assert found(client, "rust;--") == found(client, '"rust') == found(client, "!!rust") != []


def test_stop_words_alone_with_exclusions_do_not_match_everything(owner, client):
    save(owner, title="The the the")
    save(owner, title="Other words")
    assert "Other words" not in client.get("/search?q=the+-rust").get_data(as_text=True)


def insert_many(engine, rows: list[dict]) -> list[int]:  # noqa: ANN001
    """Many bookmarks at once through the same write path as the form (the index triggers included)."""
    ids = []
    with engine.begin() as conn:
        for row in rows:
            item = bookmarks.validate({"url": f"https://example.org/bulk/{next(_numbers)}", **row})
            ids.append(bookmarks.create(conn, item, created_at=row.get("created_at")))
    return ids


def all_pages(client, q: str) -> list[int]:  # noqa: ANN001
    shown: list[int] = []
    for page in range(1, 50):
        ids = found(client, q, page=page)
        if not ids:
            return shown
        shown += ids
    raise AssertionError("too many pages")


def test_many_hidden_matches_do_not_hide_the_public_one(client, owner, engine):
    public = insert_many(engine, [{"title": "Nebula photographs", "visibility": "public"}])[0]
    hidden = insert_many(engine, [{"title": "Nebula photographs", "visibility": v}
                                  for v in ["private", "followers", "unlisted"] * 12])
    assert found(client, "nebula") == [public]
    assert all_pages(client, "nebula") == [public]
    everything = all_pages(owner, "nebula")
    assert sorted(everything) == sorted(hidden + [public])


def test_equal_scores_are_ordered_by_saved_time_across_pages(client, engine):
    start = datetime(2026, 1, 1)
    # ids rise while the saved times fall, so "newest first" is "lowest id first" here.
    ids = insert_many(engine, [{"title": "Identical comet note", "created_at": start - timedelta(days=i)}
                               for i in range(30)])
    assert found(client, "comet") == ids[:5]
    assert all_pages(client, "comet") == ids


def test_paging_through_ranked_results_shows_each_once(client, engine):
    rows = [{"title": "Glacier " + "ice " * (i % 4), "annotation": "glacier melt " * (i % 3),
             "quote": "glacier" if i % 5 == 0 else "", "visibility": "private" if i % 7 == 0 else "public"}
            for i in range(40)]
    ids = insert_many(engine, rows)
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
