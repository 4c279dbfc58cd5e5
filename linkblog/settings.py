"""The owner's settings from /admin/settings: what they saved wins over config.toml, everywhere.

``load(bind, config)`` is the one accessor: a :class:`Settings` answers ``get(section, key)`` as ``Config``
does, with the owner's stored values on top for the ``EDITABLE`` keys (and everything else straight from
config). Pages, feeds, the actor, NodeInfo and the inbox's follow handling all read those keys through it,
so none of them has to check the database and the file twice.

``save`` checks a whole form at once (every bad field is reported together), then writes the settings,
the profile and the avatar in one transaction and, when something the actor document shows changed,
queues exactly one actor ``Update`` to followers in that same transaction.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping
from zoneinfo import available_timezones

from sqlalchemy import Connection, delete, insert, select, update

from .avatars import Avatar, AvatarError, process
from .config import OPTIONS, Config
from .db import Bind, insert_ignoring, reading, utcnow, writing
from .markup import render_markdown
from .models import AVATARS, OWNER_TABLE, SETTINGS
from .queries.owner import is_the_owner
from .queries.settings import profile as profile_row, stored_settings
from .states import Visibility

log = logging.getLogger(__name__)

# What the owner may change from the UI; stored as "section.key" with the same names as config.toml.
EDITABLE: tuple[tuple[str, str], ...] = (
    ("site", "title"), ("site", "description"), ("site", "timezone"), ("site", "default_visibility"),
    ("federation", "manually_approves_followers"), ("copies", "mode"), ("copies", "readers_may_see"),
)
OPTION = {(o.section, o.key): o for o in OPTIONS}
DISPLAY_NAME_MAX = 200  # owner.display_name's column
BIO_MAX = 5_000
TITLE_MAX = 200
DESCRIPTION_MAX = 500
AVATAR_PATH = "/avatar/"
DEFAULT_AVATAR = "/static/avatar.png"


class Settings:
    """config.toml's values with the owner's saved ones on top. Quacks like ``Config`` (``get``,
    ``base_url``, ``https``…), so it can be handed to anything that takes a config."""

    def __init__(self, config: Config, stored: Mapping[tuple[str, str], Any] | None = None):
        self.config = config
        self.stored = dict(stored or {})

    def get(self, section: str, key: str) -> Any:
        if (section, key) in self.stored:
            return self.stored[(section, key)]
        return self.config.get(section, key)

    def is_saved(self, section: str, key: str) -> bool:
        """True when the value comes from the settings page rather than config.toml."""
        return (section, key) in self.stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self.config, name)


def setting_key(section: str, key: str) -> str:
    return f"{section}.{key}"


def load(bind: Bind, config: Config) -> Settings:
    """The settings in force: stored values over config. A stored value that no longer passes its check
    (a hand-edited backup, a zone that left the tz database) is skipped with a warning, never fatal."""
    if isinstance(config, Settings):
        config = config.config
    stored: dict[tuple[str, str], Any] = {}
    with reading(bind) as conn:
        rows = stored_settings(conn)
    for name, raw in rows.items():
        section, _, key = name.partition(".")
        if (section, key) not in EDITABLE:
            log.warning("ignoring stored setting %r: it cannot be set from the settings page", name)
            continue
        try:
            stored[(section, key)] = OPTION[(section, key)].parse(json.loads(raw))
        except (ValueError, TypeError) as exc:
            log.warning("ignoring stored setting %s=%s: it must be %s; config.toml's value applies", name, raw, exc)
    return Settings(config, stored)


# --- the profile ---------------------------------------------------------------------------------------------


def avatar_url(base_url: str, digest: str | None) -> str:
    """The avatar's absolute URL: the stored one by digest, else the shipped default."""
    return base_url + (AVATAR_PATH + digest if digest else DEFAULT_AVATAR)


@dataclass(frozen=True)
class Profile:
    """Who the site belongs to, as pages, feeds and the actor show them."""

    username: str
    display_name: str
    bio: str
    bio_html: str
    avatar_digest: str | None
    avatar_type: str | None

    @property
    def name(self) -> str:
        return self.display_name or self.username


def profile(bind: Bind) -> Profile | None:
    """The owner's profile; None before `linkblog init`."""
    with reading(bind) as conn:
        row = profile_row(conn)
    if row is None:
        return None
    return Profile(row.username, row.display_name or "", row.summary or "", row.summary_html or "",
                   row.avatar_digest, row.media_type)


# --- saving --------------------------------------------------------------------------------------------------


class SettingsInvalid(ValueError):
    """Some fields were refused; ``errors`` maps each form field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class Checked:
    site: dict[tuple[str, str], Any]
    display_name: str
    bio: str
    avatar: Avatar | None
    remove_avatar: bool


@dataclass
class Saved:
    """What a save changed (labels for the owner's message) and whether followers were sent an Update."""

    changed: list[str] = field(default_factory=list)
    actor_update: bool = False


TIMEZONE_RULE = "an IANA time zone name such as UTC, Europe/Berlin or America/New_York"


@lru_cache(maxsize=1)
def timezones() -> tuple[str, ...]:
    """Every zone the tz database knows, for the form's suggestions (a scan of the disk: once a process)."""
    return tuple(sorted(available_timezones()))


def _checked_text(form: Mapping[str, Any], name: str, label: str, limit: int, errors: dict[str, str],
                  *, required: bool = False, one_line: bool = True) -> str:
    value = str(form.get(name) or "").replace("\r\n", "\n").strip()
    if one_line:
        value = " ".join(value.split())
    if required and not value:
        errors[name] = f"{label} must not be empty."
    elif len(value) > limit:
        errors[name] = f"{label} is {len(value):,} characters; the most is {limit:,}."
    return value


def check(form: Mapping[str, Any], upload: bytes | None, config: Config) -> Checked:
    """Every field of the settings form, checked together; raises SettingsInvalid naming each bad one."""
    errors: dict[str, str] = {}
    display_name = _checked_text(form, "display_name", "The display name", DISPLAY_NAME_MAX, errors)
    bio = _checked_text(form, "bio", "The bio", BIO_MAX, errors, one_line=False)
    title = _checked_text(form, "title", "The site title", TITLE_MAX, errors, required=True)
    description = _checked_text(form, "description", "The site description", DESCRIPTION_MAX, errors)
    zone = str(form.get("timezone") or "").strip()
    try:
        OPTION[("site", "timezone")].parse(zone)
    except ValueError:
        errors["timezone"] = f"The time zone {zone!r} is unknown: use {TIMEZONE_RULE}." if zone else \
            f"The time zone must not be empty: use {TIMEZONE_RULE}."
    visibility = str(form.get("default_visibility") or "")
    if visibility not in tuple(Visibility):
        errors["default_visibility"] = "The default visibility must be one of " + ", ".join(Visibility) + "."
    manual = str(form.get("manually_approves_followers") or "") in ("on", "true", "1", "yes")
    copy_mode = str(form.get("copies_mode") or config.get("copies", "mode"))  # left out: config.toml's
    if copy_mode not in ("all", "no_imports", "off"):
        errors["copies_mode"] = "Page copies must be one of: all, no_imports, off."
    copy_readers = str(form.get("copies_readers_may_see") or "") in ("on", "true", "1", "yes")
    avatar = None
    remove = str(form.get("remove_avatar") or "") in ("on", "true", "1", "yes")
    if upload is not None and not remove:
        try:
            avatar = process(upload, max_bytes=config.get("site", "avatar_max_bytes"),
                             max_pixels=config.get("site", "avatar_max_pixels"))
        except AvatarError as exc:
            errors["avatar"] = str(exc)
    if errors:
        raise SettingsInvalid(errors)
    return Checked({("site", "title"): title, ("site", "description"): description, ("site", "timezone"): zone,
                    ("site", "default_visibility"): visibility,
                    ("federation", "manually_approves_followers"): manual,
                    ("copies", "mode"): copy_mode, ("copies", "readers_may_see"): copy_readers},
                   display_name, bio, avatar, remove)


LABELS = {("site", "title"): "site title", ("site", "description"): "site description",
          ("site", "timezone"): "time zone", ("site", "default_visibility"): "default visibility",
          ("federation", "manually_approves_followers"): "follow approval", ("copies", "mode"): "page copies",
          ("copies", "readers_may_see"): "who may read page copies"}
# What the actor document shows: a change to one of these is what followers' servers must hear about.
ACTOR_SETTINGS = {("federation", "manually_approves_followers")}


def _store(conn: Connection, config: Config, where: tuple[str, str], value: Any) -> None:
    """Keep the value; one equal to config.toml's is not kept, so the file applies again."""
    name = setting_key(*where)
    conn.execute(delete(SETTINGS).where(SETTINGS.c.key == name))
    if value != config.get(*where):
        conn.execute(insert(SETTINGS).values(key=name, value=json.dumps(value, ensure_ascii=False),
                                             updated_at=utcnow()))


def _save_avatar(conn: Connection, avatar: Avatar | None, old: str | None) -> str | None:
    """Store the new avatar (or none), drop the old one; returns the new digest."""
    digest = avatar.digest if avatar else None
    if avatar is not None:
        insert_ignoring(conn, AVATARS, {"digest": digest, "media_type": avatar.media_type, "data": avatar.data,
                                        "width": avatar.width, "height": avatar.height, "created_at": utcnow()},
                        ["digest"])
    if old and old != digest:
        conn.execute(delete(AVATARS).where(AVATARS.c.digest == old))
    return digest


def save(bind: Bind, config: Config, checked: Checked) -> Saved:
    """Write what changed, in one transaction; one actor Update to followers if the actor changed."""
    from .federation import publish  # the protocol is loaded only by the writes that need it

    if isinstance(config, Settings):
        config = config.config
    saved = Saved()
    with writing(bind) as conn:
        current = load(conn, config)
        owner = conn.execute(select(OWNER_TABLE.c.display_name, OWNER_TABLE.c.summary, OWNER_TABLE.c.avatar_digest)
                             .where(is_the_owner())).first()
        if owner is None:
            raise SettingsInvalid({"display_name": "This site has no owner yet: run `linkblog init` first."})
        actor_changed = False
        for where in EDITABLE:
            if checked.site[where] != current.get(*where):
                _store(conn, config, where, checked.site[where])
                saved.changed.append(LABELS[where])
                actor_changed |= where in ACTOR_SETTINGS
        values: dict[str, Any] = {}
        if checked.display_name != (owner.display_name or ""):
            values["display_name"] = checked.display_name
            saved.changed.append("display name")
        if checked.bio != (owner.summary or ""):
            values.update(summary=checked.bio, summary_html=render_markdown(checked.bio))
            saved.changed.append("bio")
        new_avatar = checked.avatar is not None and checked.avatar.digest != owner.avatar_digest
        if new_avatar or (checked.remove_avatar and owner.avatar_digest):
            values["avatar_digest"] = _save_avatar(conn, checked.avatar, owner.avatar_digest)
            saved.changed.append("avatar")
        if values:
            conn.execute(update(OWNER_TABLE).where(is_the_owner()).values(**values))
            actor_changed = True
        if actor_changed:
            publish.actor_updated(conn, config)
            saved.actor_update = True
    return saved
