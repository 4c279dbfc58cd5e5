"""re-render stored Markdown: annotations, weeknotes and the bio saved before headings were demoted and
Markdown images kept (shown from https, or their alt text) now read as new ones do

Pages print the HTML stored at save time, so without this an annotation saved by an older release kept
its h2 headings (outranking the list's item titles) and lost its images without a trace until edited.
Only rows whose HTML changes are written; running it again changes nothing.

Revision ID: 0014
Revises: 0009
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

from linkblog.markup import render_markdown

revision = '0014'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 1000
# (table, primary key, Markdown column, its stored HTML column)
STORED = (("bookmarks", "id", "annotation", "annotation_html"),
          ("weeknotes", "id", "body", "body_html"),
          ("owner", "id", "summary", "summary_html"))


def _rerender(connection: sa.Connection, name: str, key: str, source: str, target: str) -> None:
    table = sa.table(name, sa.column(key), sa.column(source), sa.column(target))
    last = None
    while True:
        query = sa.select(table.c[key], table.c[source], table.c[target]).order_by(table.c[key]).limit(BATCH)
        if last is not None:
            query = query.where(table.c[key] > last)
        rows = connection.execute(query).all()
        if not rows:
            return
        last = rows[-1][0]
        changed = [{"k": row[0], "html": html} for row in rows
                   if (html := render_markdown(row[1] or "")) != (row[2] or "")]
        if changed:
            connection.execute(sa.update(table).where(table.c[key] == sa.bindparam("k"))
                               .values({target: sa.bindparam("html")}), changed)


def upgrade() -> None:
    connection = op.get_bind()
    for name, key, source, target in STORED:
        _rerender(connection, name, key, source, target)


def downgrade() -> None:
    """Nothing to undo: the HTML is derived from the Markdown, which this never touches."""
