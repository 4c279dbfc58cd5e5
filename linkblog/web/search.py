"""/search: the search box's results, ranked by the database's full-text index, paged by number."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from .. import site
from ..db import reading
from ..markup import first_text
from ..queries.search import InvalidQuery, Query, Results, count_with_pages, parse, search as run_search, weeknotes
from ..weeknotes import week_label
from .security import is_owner

bp = Blueprint("search", __name__)
# Ranked results cannot use keyset paging; a cap keeps OFFSET (and crawlers) from wandering far.
MAX_PAGE = 500


def _page_number(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return 1
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE:
        return int(raw)
    return None


@bp.route("/search")
def search():
    text = request.args.get("q", "")
    page = _page_number(request.args.get("page"))
    context = {"q": text, "page": page or 1, "query": None, "results": None, "error": None,
               "max_page": MAX_PAGE}
    if page is None:
        context["error"] = f"The page number must be a whole number from 1 to {MAX_PAGE}."
        return render_template("search.html", **context), 400
    if not text.strip():
        return render_template("search.html", **context)
    try:
        query: Query = parse(text)
    except InvalidQuery as exc:
        context["error"] = str(exc)
        return render_template("search.html", **context), 400
    size = site().config.get("site", "page_size")
    owner = is_owner()
    with reading(site().engine) as conn:
        readers_see_copies = bool(site().settings().get("copies", "readers_may_see"))
        results: Results = run_search(conn, query, owner=owner, size=size, offset=(page - 1) * size,
                                      readers_see_copies=readers_see_copies)
        found = count_with_pages(conn, query, owner=owner, readers_see_copies=readers_see_copies)
        notes = weeknotes(conn, query, owner=owner)
    context.update(query=query, results=results, found=found, notes=notes, week_label=week_label,
                   first_text=first_text)
    return render_template("search.html", **context)
