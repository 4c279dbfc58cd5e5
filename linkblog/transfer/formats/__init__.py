"""Bookmark file formats, the pure half of import and export: no database, no Flask, no network, stdlib only.

- entries.py: what parsers yield (ImportedBookmark, Invalid), ParseError, and the dicts emitters take.
- fields.py: foreign tags, dates, flags and URLs as ours, shared by every parser.
- source.py: a file's text in chunks, or whole as JSON.
- netscape.py, pinboard.py: Netscape HTML and Pinboard JSON, parsed and emitted.
- csv_formats.py: Pocket, Raindrop.io and Instapaper CSV; browser_json.py: Chrome and Firefox JSON.
- detect.py: a file's format from its first bytes; registry.py: PARSERS, their labels, parser_for.
"""
