"""The owner's one navigation, shared by every owner page (templates/_owner_nav.html, included by base.html).

The links are plain paths, not ``url_for``; an ``optional`` entry (the settings page, from another part of
issue 10) shows only once its view is installed. The
current page comes from ``request.endpoint``: the link whose page it is gets ``aria-current="page"``; a page
below one (the weeknote editor under Weeknotes, a bookmark's edit form under Save) marks its parent with
``aria-current="true"``. Endpoints of the owner's blueprints that no link names still show the navigation.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request

from .security import is_owner


@dataclass(frozen=True)
class Link:
    label: str
    href: str
    pages: tuple[str, ...]            # endpoints that are this link's page (GET, and the POST that re-shows it)
    within: tuple[str, ...] = ()      # endpoints of pages below it
    optional: bool = False            # shown only when its page's view is installed


@dataclass(frozen=True)
class Group:
    label: str
    links: tuple[Link, ...]


GROUPS = (
    Group("Links", (
        Link("Dashboard", "/admin/", ("admin.dashboard",)),
        Link("New link", "/save", ("owner.save_form", "owner.save"), ("owner.edit", "owner.delete")),
        Link("Bookmarklet", "/bookmarklet", ("bookmarklet.page",)),
        Link("To read", "/admin/toread", ("admin.to_read",)),
        Link("Archived", "/admin/archived", ("admin.archived",)),
        Link("Weeknotes", "/admin/weeknotes", ("admin.weeknote_list", "admin.weeknote_start"),
             ("admin.weeknote_edit", "admin.weeknote_delete", "owner.add_to_weeknote")),
        Link("Tags", "/admin/tags", ("admin.tag_list", "admin.tag_rename")),
        Link("Link health", "/admin/links", ("links.health_page", "links.act")),
    )),
    Group("Fediverse", (
        Link("Followers", "/admin/followers", ("fediverse.followers_list", "fediverse.follower_action",
                                               "fediverse.unblock")),
        Link("Following", "/admin/following", ("fediverse.following_list", "fediverse.follow",
                                               "fediverse.unfollow")),
        Link("Interactions", "/admin/interactions", ("fediverse.interactions", "fediverse.moderate")),
        Link("Deliveries", "/admin/deliveries", ("fediverse.deliveries",)),
        Link("Network", "/network", ("fediverse.network", "fediverse.like", "fediverse.reply")),
    )),
    Group("Site", (
        Link("Settings", "/admin/settings", ("settings.form", "settings.save"), optional=True),
        Link("Import & export", "/admin/import", ("transfer.import_form", "transfer.import_upload")),
        Link("API tokens", "/admin/tokens", ("admin.token_list", "admin.token_create", "admin.token_revoke")),
        Link("Move account", "/admin/account", ("account.page", "account.add_alias", "account.remove_alias",
                                                  "account.move")),
        Link("Password", "/settings/password", ("auth.change_password",)),
    )),
)
OWNER_BLUEPRINTS = frozenset({"admin", "owner", "account", "fediverse", "transfer", "links"})
NAMED = frozenset(endpoint for group in GROUPS for link in group.links for endpoint in link.pages + link.within)


@dataclass(frozen=True)
class Shown:
    label: str
    href: str
    current: str | None  # the aria-current value: "page", "true" (a page below it), or None


def owner_nav() -> list[tuple[str, list[Shown]]] | None:
    """The groups of links with the current one marked, or None when this page gets no owner navigation
    (a reader, a public page). The bookmarklet's small window leaves it out in the template (``popup``): the
    request's form must not be read here, an error page about a too large upload renders this too."""
    endpoint = request.endpoint or ""
    if not is_owner():
        return None
    if endpoint not in NAMED and endpoint.partition(".")[0] not in OWNER_BLUEPRINTS:
        return None
    return [(group.label, [Shown(link.label, link.href, "page" if endpoint in link.pages
                                 else "true" if endpoint in link.within else None)
                           for link in group.links
                           if not link.optional or link.pages[0] in current_app.view_functions])
            for group in GROUPS]
