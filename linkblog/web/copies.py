"""``/bookmarks/<id>/copy``: the saved copy of a bookmark's page (``links.copies``).

The owner may always read it (private bookmarks too); a reader only the copy of a public or unlisted bookmark,
and only when ``[copies] readers_may_see`` or the bookmark's own choice allows it; anyone else gets the same 404
as for a bookmark that does not exist. The owner may ask for the page to be fetched again (a POST). The copy is
stored sanitised (text, headings, lists, links; no scripts,
styles, images or frames), is printed as stored, and the page keeps the site's CSP: nothing remote loads.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template

from .. import site
from ..links import copies
from ..queries import bookmarks as bookmark_reads
from .security import is_owner, owner_required

bp = Blueprint("copies", __name__)


@bp.route("/bookmarks/<int:bookmark_id>/copy")
def copy(bookmark_id: int):
    owner = is_owner()
    with site().engine.connect() as conn:
        item = bookmark_reads.bookmark(conn, bookmark_id)
        if item is None or not bookmark_reads.can_see(item["visibility"], owner):
            abort(404, description="There is no bookmark here.")
        saved = copies.read(conn, bookmark_id)
    if not owner and (saved is None or saved.state != "done"
                      or not copies.readers_may_see(site().settings(), item["visibility"], saved.readers)):
        abort(404, description="There is no saved copy to read here.")
    return render_template("copy.html", item=item, copy=saved)


@bp.route("/bookmarks/<int:bookmark_id>/copy", methods=["POST"])
@owner_required
def fetch_again(bookmark_id: int):
    """"Fetch the page again" (the owner's button on the copy page): queued at once, whatever the setting."""
    with site().engine.begin() as conn:
        item = bookmark_reads.bookmark(conn, bookmark_id)
        if item is None:
            abort(404, description="There is no bookmark here.")
        copies.fetch_again(conn, bookmark_id, item["url"])
    flash("The page will be fetched again shortly.")
    return redirect(f"/bookmarks/{bookmark_id}/copy", 303)
