"""The bookmarklet page: a link to drag to the bookmarks bar that opens the save form on any page."""
from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

from flask import Blueprint, render_template, request

from .. import site

bp = Blueprint("bookmarklet", __name__)

WINDOW_FEATURES = "width=620,height=840"
QUOTE_CHARS = 5000  # the quote field's limit (models.QUOTE_MAX)
TITLE_CHARS = 500  # models.TITLE_MAX: a longer title would only come back as a form error
# gunicorn refuses request lines over 4094 bytes, and the redirect to the login page percent-encodes the
# whole path once more (up to 5/3 as long), so the query is kept under this many characters. A long
# selection is cut back to fit, at a word boundary so the quote still works as a text fragment.
QUERY_BUDGET = 2000

# Runs in the visited page (whose CSP, not ours, applies), so: no globals left behind, no return value
# (a javascript: URL that returns a string replaces the page with it), and nothing but the page's own
# address, title and selection leaves it. `cut` never splits a surrogate pair, which encodeURIComponent
# would reject.
SCRIPT = """(function(){
var d=document,w=window,e=encodeURIComponent,
cut=function(s,n){s=s.slice(0,n);return /[\\uD800-\\uDBFF]$/.test(s)?s.slice(0,-1):s;},
q=cut(String(w.getSelection?w.getSelection():'').trim(),__QUOTE__),
s=__SAVE__,
r='url='+e(location.href)+'&title='+e(cut(d.title.trim(),__TITLE__));
while(q&&(r+'&quote='+e(q)).length>__BUDGET__){q=cut(q,Math.floor(q.length*0.9)).replace(/\\s+\\S*$/,'');}
if(q){r+='&quote='+e(q);}
var p=w.open(s+'popup=1&'+r,'linkblog',__FEATURES__);
if(p){p.focus();}else{location.href=s+r;}
})();"""


def bookmarklet_code(base_url: str) -> str:
    """The JavaScript, on one line, for a site at ``base_url`` (values are JSON-quoted into it)."""
    code = "".join(line.strip() for line in SCRIPT.splitlines())
    for name, value in (("__SAVE__", json.dumps(base_url + "/save?")), ("__QUOTE__", str(QUOTE_CHARS)),
                        ("__TITLE__", str(TITLE_CHARS)), ("__BUDGET__", str(QUERY_BUDGET)),
                        ("__FEATURES__", json.dumps(WINDOW_FEATURES))):
        code = code.replace(name, value)
    return code


def bookmarklet_href(base_url: str) -> str:
    """A ``javascript:`` URL: browsers percent-decode it before running it, so every ``%`` (and anything
    else that is not plainly safe) must be encoded."""
    return "javascript:" + quote(bookmarklet_code(base_url), safe="(){};,.=!'*_-:/?+&[]")


def origin(url: str) -> str:
    """scheme://host[:port] in lower case, the default port left out: what two addresses must share."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{netloc}" + (f":{port}" if port and port != default else "")


@bp.route("/bookmarklet")
def page():
    """The bookmarklet points at ``base_url``: when this page was loaded from another address (a typo in
    config.toml, a proxy not passing the host), the page says so, since the bookmarklet would point nowhere."""
    base = site().config.base_url
    loaded = origin(request.host_url)
    mismatch = loaded if loaded != origin(base) else None
    return render_template("bookmarklet.html", href=bookmarklet_href(base), save_url=base + "/save",
                           mismatch=mismatch, base_url=base)
