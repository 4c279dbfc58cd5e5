"""Saved links: ``linkblog links check [--all]`` checks the due links (or all of them) now, as the worker
does on its schedule, with a progress bar and a summary of what changed."""
from __future__ import annotations

import click

from ..db import make_engine
from .context import Context, config_option, pass_ctx


@click.group()
def links() -> None:
    """Saved links: which still answer, moved, or died (the worker checks them on a schedule)."""


@links.command("check")
@config_option
@click.option("--all", "everything", is_flag=True, help="Check every link now, not only the due ones.")
@pass_ctx
def check(ctx: Context, everything: bool) -> None:
    """Check the links that are due (or --all) now, politely per host; prints what changed."""
    from sqlalchemy import func, select

    from ..db import utcnow
    from ..federation.net import FetchClient
    from ..links import checks, copies
    from ..models import BOOKMARKS

    config = ctx.config()
    engine = make_engine(config.database_url)
    try:
        with engine.connect() as conn:
            total = (conn.execute(select(func.count()).select_from(BOOKMARKS)).scalar_one() if everything
                     else checks.due_count(conn, utcnow()))
        with FetchClient(checks.link_policy(config)) as client:
            run = checks.Run(engine, client, checks.Rules.of(config), reference=copies.copy_text)
            with click.progressbar(length=total, label="Checking links", show_pos=True,
                                   item_show_func=lambda link: link.url[:60] if link else None) as bar:
                def each(link: checks.Link) -> None:
                    bar.update(1, link)

                if everything:
                    checks.check_all(run, each)
                else:
                    taken = 0
                    while taken < total:
                        found = checks.check_due(run, limit=min(run.rules.batch, total - taken), each=each,
                                                 spread=True)
                        if not found:
                            break
                        taken += found
    finally:
        engine.dispose()
    summary = run.summary
    click.echo(summary.line())
    for bookmark_id, url, before, after in summary.changes:
        click.echo(f"  #{bookmark_id} {url}: {before} -> {after}")


COMMANDS = (links,)
