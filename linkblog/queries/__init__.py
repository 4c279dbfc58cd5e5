"""Every read the pages, feeds, the API and the owner's pages need, as Core queries over covering indexes
(no ORM on hot paths). Each function takes a Connection and plain arguments and returns plain rows, dicts
or dataclasses; writes live in the services (bookmarks, weeknotes, federation).

paging (cursors and the keyset condition), stream (home and feeds), bookmarks, weeknotes, search, owner,
fediverse, admin, sitemap.
"""
