"""PostgreSQL search, faster and accent-insensitive: the tsvector columns fold accents, and the bookmarks' title
and tags get a vector (and GIN index) of their own

Revision ID: 0017
Revises: 0010
Create Date: 2026-12-07

``search_vector`` of bookmarks (0002), weeknotes (0009) and page copies (0010) are generated again from the text
passed (unless it is pure ASCII) through the built-in, immutable ``translate(text, ACCENTED, PLAIN)`` (the table of
``linkblog.queries.fold``, frozen here): "cafe" finds "Café" without the ``unaccent`` extension, which a role that
may not create extensions could not install. ``search_vector_title`` (title and tags) lets a search take its first
page from the bookmarks whose title or tags match, newest first, without ranking every match
(``linkblog.queries.search``). SQLite's FTS5 tables already fold accents (``remove_diacritics 2``): nothing changes.
Each table is rewritten once (one ALTER TABLE, so the vectors are written with their MAIN storage). Weeknote
bodies move to lz4 compression where the server has it (a permalink reads them all).
"""
import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0017"
down_revision = "0010"
branch_labels = None
depends_on = None

ACCENTED = "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹØøĐđĦħıŁł" + "".join(chr(cp) for cp in range(0x300, 0x370))  # + combining marks, dropped
PLAIN = "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuUuAaAaGgKkOoOojGgNnAaAaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAaEeOoOoOoOoYyAaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLlLlLlLlMmMmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVvWwWwWwWwWwXxXxYyZzZzZzhtwyAaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEeEeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYyOoDdHhiLl"


def folded(column: str) -> str:
    """The column's text with accents folded. translate() compares every character with every one of ACCENTED,
    so pure ASCII text (byte length = character length in UTF-8), most of it, skips it."""
    text = f"coalesce({column}, '')"
    return f"CASE WHEN octet_length({text}) = char_length({text}) THEN {text} " \
           f"ELSE translate({text}, '{ACCENTED}', '{PLAIN}') END"


def vector(text: str, weight: str | None = None) -> str:
    made = f"to_tsvector('english'::regconfig, {text})"
    return f"setweight({made}, '{weight}')" if weight else made


BOOKMARK_TITLE = vector(folded("title"), "A") + " || " + vector(folded("tags_text"), "A")
BOOKMARK_ALL = " || ".join([
    BOOKMARK_TITLE,
    vector(folded("annotation"), "B"),
    vector(folded("quote"), "C"),
    vector("regexp_replace(" + folded("url") + ", '[^[:alnum:]]+', ' ', 'g')", "D"),
])
WEEKNOTE_ALL = vector(folded("title"), "A") + " || " + vector(folded("body"), "B")
PAGE_ALL = vector(folded("text"))


def _regenerate(table: str, columns: dict[str, str]) -> None:
    """Drop and add the generated vector columns in one ALTER TABLE (one rewrite), then index them."""
    actions = []
    for name, expression in columns.items():
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_{name}")
        actions += [f"DROP COLUMN IF EXISTS {name}",
                    f"ADD COLUMN {name} tsvector GENERATED ALWAYS AS ({expression}) STORED",
                    f"ALTER COLUMN {name} SET STORAGE MAIN"]
    op.execute(f"ALTER TABLE {table} " + ", ".join(actions))
    for name in columns:
        op.execute(f"CREATE INDEX ix_{table}_{name} ON {table} USING gin ({name})")
    op.execute(f"ANALYZE {table}")  # the planner needs the new columns' word statistics to pick its plan


def _weeknote_bodies_lz4() -> None:
    """A permalink looks for the weeknotes listing its link in every note's body; decompressing pglz was most of
    that (2.5 ms for 200 notes, 0.6 ms with lz4). A server built without lz4 keeps pglz, with a warning."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("ALTER TABLE weeknotes ALTER COLUMN body SET COMPRESSION lz4")
    except DBAPIError as exc:
        logging.getLogger("alembic").warning("weeknote bodies stay pglz-compressed (%s)", str(exc).splitlines()[0])
        return
    op.execute("UPDATE weeknotes SET body = body || ''")  # a new value is compressed again, with lz4


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    _regenerate("bookmarks", {"search_vector": BOOKMARK_ALL, "search_vector_title": BOOKMARK_TITLE})
    _weeknote_bodies_lz4()
    _regenerate("weeknotes", {"search_vector": WEEKNOTE_ALL})
    _regenerate("page_copies", {"search_vector": PAGE_ALL})


def _plain(column: str) -> str:
    return f"coalesce({column}, '')"


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("ALTER TABLE weeknotes ALTER COLUMN body SET COMPRESSION default")
    op.execute("DROP INDEX IF EXISTS ix_bookmarks_search_vector_title")
    op.execute("ALTER TABLE bookmarks DROP COLUMN IF EXISTS search_vector_title")
    title = vector(_plain("title"), "A") + " || " + vector(_plain("tags_text"), "A")
    _regenerate("bookmarks", {"search_vector": " || ".join([
        title, vector(_plain("annotation"), "B"), vector(_plain("quote"), "C"),
        vector("regexp_replace(" + _plain("url") + ", '[^[:alnum:]]+', ' ', 'g')", "D")])})
    _regenerate("weeknotes", {"search_vector": vector(_plain("title"), "A") + " || " + vector(_plain("body"), "B")})
    _regenerate("page_copies", {"search_vector": vector(_plain("text"))})
