"""Netscape bookmark HTML, the format every browser and most services read and write: parse and emit.

Pure: no database, no network. The parser streams: it yields each entry as soon as it is complete.
"""
from __future__ import annotations

import html
import io
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

from .entries import ImportedBookmark, Invalid, ParseError, marked_private
from .fields import EPOCH, epoch_to_datetime, is_yes, normalise_tag, normalise_tags, split_tags, url_problem
from .source import text_chunks


class _NetscapeParser(HTMLParser):
    def __init__(self, folders_as_tags: bool):
        super().__init__(convert_charrefs=True)
        self.folders_as_tags = folders_as_tags
        self.out: list[ImportedBookmark | Invalid] = []
        self.seen_bookmark_markup = False
        self.folders: list[str | None] = []
        self.pending_folder: str | None = None
        self.folder_text: list[str] | None = None
        self.current: dict[str, Any] | None = None  # the bookmark being read
        self.mode: str | None = None  # "title" | "desc" | None

    # -- finishing entries
    def _finish(self) -> None:
        item, self.current, self.mode = self.current, None, None
        if item is None:
            return
        problem = url_problem(item["url"])
        if problem:
            self.out.append(Invalid(item["position"], problem))
            return
        title = " ".join("".join(item["title"]).split()) or item["url"]
        folder_tags = [f for f in self.folders if f] if self.folders_as_tags else []
        self.out.append(ImportedBookmark(
            url=item["url"], title=title, description="".join(item["desc"]).strip(),
            tags=normalise_tags(item["tags"] + folder_tags), created=item["created"], updated=item["updated"],
            private=item["private"], toread=item["toread"]))

    def _end_folder_title(self) -> None:
        if self.folder_text is not None:
            name = normalise_tag(" ".join("".join(self.folder_text).split()))
            self.pending_folder = name or None
            self.folder_text = None

    # -- HTMLParser callbacks
    def handle_decl(self, decl: str) -> None:
        if "netscape-bookmark-file" in decl.lower():
            self.seen_bookmark_markup = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("dt", "dl", "h3", "hr", "h1"):
            self._finish()
        elif tag == "dd" and self.current is not None:
            self.mode = "desc"
        if tag == "h3":
            self.folder_text = []
            self.pending_folder = None
        elif tag == "dl":
            self._end_folder_title()
            self.folders.append(self.pending_folder)
            self.pending_folder = None
        elif tag == "a":
            a = {k.lower(): (v or "") for k, v in attrs}
            if "href" not in a:
                return
            self._finish()
            self.seen_bookmark_markup = True
            line, col = self.getpos()
            self.current = {
                "position": f"line {line}, column {col + 1}", "url": a["href"].strip(), "title": [], "desc": [],
                "tags": split_tags(a.get("tags")),
                "created": epoch_to_datetime(a.get("add_date") or a.get("time_added")),
                "updated": epoch_to_datetime(a.get("last_modified")),
                "private": is_yes(a.get("private")), "toread": is_yes(a.get("toread")),
            }
            self.mode = "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.mode == "title":
            self.mode = None
        elif tag == "h3":
            self._end_folder_title()
        elif tag == "dd" and self.mode == "desc":
            self._finish()
        elif tag == "dl":
            self._finish()
            self._end_folder_title()
            if self.folders:
                self.folders.pop()

    def handle_data(self, data: str) -> None:
        if self.folder_text is not None:
            self.folder_text.append(data)
        elif self.current is not None and self.mode == "title":
            self.current["title"].append(data)
        elif self.current is not None and self.mode == "desc":
            self.current["desc"].append(data)

    def close(self) -> None:
        super().close()
        self._finish()


def parse_netscape(stream: io.TextIOBase | str | bytes | Iterable[str], *,
                   folders_as_tags: bool = True) -> Iterator[ImportedBookmark | Invalid]:
    """Stream a Netscape bookmark file: yields entries as soon as each is complete."""
    parser = _NetscapeParser(folders_as_tags)
    started = False
    for chunk in text_chunks(stream):
        if not started:
            chunk = chunk.lstrip("\ufeff \t\r\n")
            if not chunk:
                continue
            started = True
            if chunk[0] != "<":
                what = "JSON" if chunk[0] in "[{" else "text"
                raise ParseError((1, 1), f"This is a {what} file, not a Netscape bookmark file.")
        parser.feed(chunk)
        if parser.out:
            yield from parser.out
            parser.out.clear()
    if not started:
        return
    parser.close()
    if not parser.seen_bookmark_markup:
        raise ParseError(None, "No bookmarks found: the file has no <A HREF> links and no NETSCAPE doctype.")
    yield from parser.out
    parser.out.clear()


def _seconds(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return str(int((moment - EPOCH).total_seconds()))


def emit_netscape(bookmarks: Iterable[dict]) -> Iterator[str]:
    """The Netscape file in chunks, one bookmark per chunk (dicts in the shape to_export_dict makes)."""
    esc = html.escape
    yield ("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n"
           '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">\n'
           "<TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n<DL><p>\n")
    for b in bookmarks:
        attrs = [f'HREF="{esc(b["url"])}"']
        for name, key in (("ADD_DATE", "created_at"), ("LAST_MODIFIED", "updated_at")):
            seconds = _seconds(b.get(key))
            if seconds is not None:
                attrs.append(f'{name}="{seconds}"')
        attrs.append(f'PRIVATE="{1 if marked_private(b) else 0}"')
        if b.get("toread"):
            attrs.append('TOREAD="1"')
        attrs.append(f'TAGS="{esc(",".join(b.get("tags") or []))}"')
        line = f'<DT><A {" ".join(attrs)}>{esc(b.get("title") or b["url"])}</A>\n'
        if b.get("annotation"):
            line += f'<DD>{esc(b["annotation"])}\n'
        yield line
    yield "</DL><p>\n"
