"""Typed configuration from a TOML file plus ``LINKBLOG_<SECTION>_<KEY>`` environment overrides.

Every user mistake becomes one ``ConfigError`` line naming the key and what was expected, so the CLI
can print it without a stack trace.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from .hosts import InvalidHost, ascii_host_url
from .states import Visibility

ENV_PREFIX = "LINKBLOG_"
VISIBILITIES = tuple(Visibility)


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line meant for the owner."""


def _base_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("an absolute http(s) URL such as https://links.example.org")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("an absolute http(s) URL such as https://links.example.org")
    if parts.path not in ("", "/"):
        raise ValueError("a URL without a path (the site must live at the root of its host)")
    try:  # an international name in the ASCII form browsers send in Host (UTS #46)
        parts = urlsplit(ascii_host_url(f"{parts.scheme}://{parts.netloc}"))
    except (InvalidHost, ValueError) as exc:
        raise ValueError(f"a URL with a valid host name ({exc})") from None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a string")
    return value


def _nonempty(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    return value


def _secret(value: Any) -> str:
    if not isinstance(value, str) or len(value) < 32:
        raise ValueError("a random string of at least 32 characters (linkblog init writes one)")
    return value


def _int_between(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return value

    return check


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.lower() in ("true", "1", "yes", "on")
    raise ValueError("true or false")


def _database_url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise ValueError("a SQLAlchemy URL starting with sqlite:/// or postgresql://")
    return value


def _visibility(value: Any) -> str:
    if value not in VISIBILITIES:
        raise ValueError("one of " + ", ".join(VISIBILITIES))
    return value


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError("an IANA time zone name such as UTC or Europe/Berlin") from None
    return value


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return value

    return check


@dataclass(frozen=True)
class Option:
    section: str
    key: str
    parse: Callable[[Any], Any]
    default: Any = None  # None means required
    doc: str = ""


OPTIONS: tuple[Option, ...] = (
    Option("site", "base_url", _base_url, None, "Public address of the site; ids of every item derive from it."),
    Option("site", "title", _nonempty, "My links", "Site title shown in pages and feeds."),
    Option("site", "description", _string, "Links I saved, with notes.", "One line under the title."),
    Option("site", "language", _nonempty, "en", "Language of the content (html lang, feeds)."),
    Option("site", "page_size", _int_between(5, 100), 20, "Items per page on lists."),
    Option("site", "feed_size", _int_between(5, 200), 50, "Items in each feed."),
    Option("site", "timezone", _timezone, "UTC", "Time zone that decides which ISO week a link belongs to."),
    Option("site", "default_visibility", _visibility, "public", "Visibility preselected for new bookmarks."),
    Option("site", "avatar_max_bytes", _int_between(10_000, 20_000_000), 8_000_000,
           "Largest avatar upload accepted on /admin/settings, in bytes (it is resized to 400x400 anyway)."),
    Option("site", "avatar_max_pixels", _int_between(10_000, 100_000_000), 40_000_000,
           "Most pixels (width x height) an avatar upload may have: refuses decompression bombs before decoding."),
    Option("server", "host", _nonempty, "127.0.0.1", "Address `linkblog serve` listens on."),
    Option("server", "port", _int_between(1, 65535), 8000, "Port `linkblog serve` listens on."),
    Option("server", "trusted_proxies", _int_between(0, 5), 0,
           "Reverse proxies in front (1 behind nginx/caddy): trust their X-Forwarded-* headers."),
    Option("database", "url", _database_url, "", "SQLAlchemy URL; empty means linkblog.db beside config."),
    Option("security", "secret_key", _secret, None, "Signs session cookies and CSRF tokens; keep it secret."),
    Option("security", "login_attempts", _int_between(1, 1000), 5,
           "Failed logins allowed per address per window (an IPv6 address counts as its whole /64)."),
    Option("security", "login_window", _int_between(10, 86400), 900, "Seconds in the login rate-limit window."),
    Option("security", "account_login_attempts", _int_between(1, 100000), 30,
           "Failed logins with the owner's user name allowed per account_login_window, from all addresses together."),
    Option("security", "account_login_window", _int_between(10, 86400), 3600,
           "Seconds in the per-account login rate-limit window."),
    Option("security", "secure_cookies", _choice("auto", "always", "never"), "auto",
           "Secure flag on cookies; auto sets it when base_url is https."),
    Option("weeknotes", "links_heading", _nonempty, "Links this week", "Heading of the drafted links section."),
    Option("federation", "allow_private_addresses", _boolean, False,
           "Let the server talk to peers on 127.0.0.1/private networks over plain http (tests and local trials only)."),
    Option("federation", "manually_approves_followers", _boolean, False,
           "Hold follow requests for the owner's approval instead of accepting them automatically."),
    Option("federation", "weeknote_type", _choice("Note", "Article"), "Note",
           "How weeknotes federate: Note (Mastodon shows the whole text) or Article (shown as a titled link)."),
    Option("federation", "secure_mode", _boolean, False,
           "Serve our actor and objects only to signed fetches (authorized fetch), except to the owner's browser."),
    Option("federation", "publish_collections", _boolean, False,
           "List the members of the followers/following collections publicly (counts are always shown)."),
    Option("federation", "delivery_concurrency", _int_between(1, 256), 16, "Deliveries in flight per worker."),
    Option("federation", "delivery_processes", _int_between(0, 16), 0,
           "Processes the worker delivers from (0: one per CPU, at most 4); the first also processes the inbox."),
    Option("federation", "worker_niceness", _int_between(0, 19), 5,
           "How far below the web's the worker's CPU priority is (Unix nice): pages stay quick during a fan-out."),
    Option("federation", "delivery_timeout", _int_between(1, 120), 10,
           "Seconds one delivery attempt may take in all (connect, answer, body) before it gives up."),
    Option("federation", "fetch_timeout", _int_between(1, 120), 10,
           "Seconds one fetch (key, actor, object, WebFinger) may take in all: DNS, connect, 1xx, headers, body."),
    Option("federation", "web_fetch_concurrency", _int_between(1, 64), 2,
           "Key fetches at once per web process (inbox POSTs, signed GETs); more get 503 so pages keep threads."),
    Option("federation", "max_attempts", _int_between(1, 50), 16,
           "Tries per delivery before giving up (spread over about three days)."),
    Option("federation", "delivery_lease", _int_between(8, 86400), 300,
           "Seconds a worker holds the deliveries it took; a worker that dies mid-batch only delays them this "
           "long, then another takes them over. At least 8 x delivery_timeout (a batch's longest run), which "
           "is also the default when that is longer than 300."),
    Option("federation", "retry_after_cap", _int_between(0, 86400), 21600,
           "Longest Retry-After (seconds) a peer may ask us to wait before the next try."),
    Option("federation", "unavailable_after_days", _int_between(1, 60), 3,
           "Mark a host unavailable after it has failed this many days in a row; skipped until it recovers."),
    Option("federation", "inbox_rate_limit", _int_between(0, 1_000_000), 300,
           "Inbox POSTs accepted per remote host (the signature's keyId host) per window, then 429; 0 is no limit."),
    Option("federation", "inbox_rate_window", _int_between(1, 86400), 60, "Seconds in the inbox rate-limit window."),
    Option("federation", "inbox_body_retention_days", _int_between(0, 3650), 2,
           "Days a processed inbound activity keeps its body; only its id is kept after that (0: at the next prune)."),
    Option("federation", "inbox_id_retention_days", _int_between(1, 3650), 30,
           "Days a processed inbound activity's id is kept, so a redelivery of it is recognised and ignored."),
    Option("federation", "delivery_retention_days", _int_between(1, 3650), 14,
           "Days a finished delivery (delivered or given up) stays in the delivery log."),
    Option("federation", "max_list_items", _int_between(10, 100_000), 1000,
           "Entries read from any one list of a received activity (to, cc, tag, attachment, ...); the rest are dropped."),
    Option("federation", "max_json_values", _int_between(1000, 1_000_000), 20_000,
           "JSON values (objects, lists, strings, numbers) read from one received activity; what follows is dropped."),
    Option("federation", "max_content_chars", _int_between(1000, 1_000_000), 20_000,
           "Characters of a remote post's HTML content read; the rest is cut before any parsing."),
    Option("federation", "max_content_tags", _int_between(10, 100_000), 1000,
           "HTML tags of a remote post's content read; the markup after them is cut before any parsing."),
    Option("links", "check", _boolean, True,
           "The worker re-checks saved links on a schedule and keeps each one's state (ok, gone, ...) for /admin/links."),
    Option("links", "check_interval_days", _int_between(1, 365), 30,
           "Days between two checks of a link that answers (each spread by up to a quarter, so checks spread out)."),
    Option("links", "retry_hours", _int_between(1, 720), 24,
           "Hours before a link that failed to answer (time-out, refused, 5xx) is tried again."),
    Option("links", "unreachable_checks", _int_between(1, 100), 3,
           "A link is unreachable after failing this many checks in a row ..."),
    Option("links", "unreachable_days", _int_between(0, 365), 7,
           "... spread over at least this many days (one bad night never marks a link dead)."),
    Option("links", "changed_resemblance", _int_between(0, 100), 20,
           "A page whose text resembles its first-seen text less than this (percent of shared 3-word shingles, "
           "Jaccard) has changed beyond recognition."),
    Option("links", "per_host_gap", _int_between(0, 3600), 10,
           "Seconds between two link checks on one host (the worker checks other hosts meanwhile)."),
    Option("links", "check_batch", _int_between(1, 1000), 50, "Links one worker step checks at most."),
    Option("links", "check_concurrency", _int_between(1, 64), 8,
           "Links checked at the same time, each on another host (one host is still asked one link at a time)."),
    Option("links", "check_timeout", _int_between(1, 120), 15,
           "Seconds one link check may take in all (every redirect, headers and the text read)."),
    Option("links", "check_max_bytes", _int_between(10_000, 10_000_000), 1_000_000,
           "Bytes of a page read to compare its text; the rest is never downloaded."),
    Option("links", "retry_after_cap", _int_between(0, 30 * 86400), 86400,
           "Longest Retry-After (seconds) a site's 429 or 503 may make us wait before checking its links again."),
    Option("links", "wayback_save", _boolean, False,
           "When a new bookmark is first checked, ask the Wayback Machine to archive its page."),
    Option("links", "wayback_endpoint", _nonempty, "https://web.archive.org/save/",
           "The Wayback Machine's save endpoint; the page's URL is appended to it."),
    Option("copies", "mode", _choice("all", "no_imports", "off"), "all",
           "Keep a copy of each saved page: all, no_imports (not for imported bookmarks) or off."),
    Option("copies", "readers_may_see", _boolean, False,
           "Readers may read the saved copy of a public bookmark (each bookmark can override it)."),
    Option("copies", "max_bytes", _int_between(65_536, 100 * 1024 * 1024), 5 * 1024 * 1024,
           "Largest page (after decompression) a copy is taken of; larger ones fail with a reason."),
    Option("copies", "timeout", _int_between(1, 300), 30, "Seconds one page fetch may take in all (every hop)."),
    Option("copies", "max_redirects", _int_between(0, 20), 5, "Redirects followed when fetching a page."),
    Option("copies", "max_text_chars", _int_between(1000, 5_000_000), 200_000,
           "Characters of readable text kept (and searchable) per page."),
    Option("copies", "extract_timeout", _int_between(1, 600), 20,
           "Seconds reading one fetched page may take (a child process, killed when the time is up)."),
    Option("copies", "host_gap", _int_between(0, 3600), 5, "Seconds between two fetches from one host."),
    Option("copies", "import_interval", _int_between(0, 3600), 3,
           "Seconds between two page fetches for imported bookmarks (all hosts together)."),
    Option("copies", "concurrency", _int_between(1, 32), 4, "Page fetches in flight per worker (distinct hosts)."),
    Option("copies", "max_attempts", _int_between(1, 20), 5, "Tries before a page copy is given up."),
    Option("copies", "retry_after_cap", _int_between(0, 604800), 86400,
           "Longest Retry-After (seconds) honoured; longer waits are cut to this."),
    Option("copies", "lease", _int_between(10, 86400), 300,
           "Seconds a worker holds a claimed fetch before another may take it over."),
    Option("logging", "level", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", "Log level."),
)


@dataclass(frozen=True)
class Config:
    """The validated settings; ``values[(section, key)]``; also ``path`` of the file it came from."""

    values: dict[tuple[str, str], Any]
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The keys the file, the environment or the caller set; every other value is its default. The settings
    # page says "from config.toml" only for these, so a new site's page is not full of notes about a file
    # its owner never edited.
    given: frozenset[tuple[str, str]] = frozenset()

    def get(self, section: str, key: str) -> Any:
        return self.values[(section, key)]

    @property
    def base_url(self) -> str:
        return self.get("site", "base_url")

    @property
    def database_url(self) -> str:
        return self.get("database", "url")

    @property
    def secret_key(self) -> str:
        return self.get("security", "secret_key")

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")


def _known() -> dict[tuple[str, str], Option]:
    return {(o.section, o.key): o for o in OPTIONS}


def _env_overrides(environ: dict[str, str]) -> dict[tuple[str, str], str]:
    sections = {o.section for o in OPTIONS}
    known = _known()
    found: dict[tuple[str, str], str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        rest = name[len(ENV_PREFIX):].lower()
        section, _, key = rest.partition("_")
        if section not in sections:
            continue  # e.g. LINKBLOG_TEST_DATABASE_URL belongs to the test suite
        if (section, key) not in known:
            raise ConfigError(f"{name}: unknown setting [{section}] {key}")
        found[(section, key)] = value
    return found


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[tuple[str, str], Any] | None = None,
) -> Config:
    """Read the TOML file (if any), apply environment and explicit overrides, validate everything."""
    environ = dict(os.environ if environ is None else environ)
    file_values: dict[tuple[str, str], Any] = {}
    config_path = Path(path) if path else None
    if config_path is not None:
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {config_path} not found; create one with `linkblog init`") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None
        known = _known()
        for section, table in raw.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{config_path}: '{section}' must be a [section] table")
            for key, value in table.items():
                if (section, key) not in known:
                    raise ConfigError(f"{config_path}: unknown setting [{section}] {key}")
                file_values[(section, key)] = value
    merged = {**file_values, **_env_overrides(environ), **(overrides or {})}
    values: dict[tuple[str, str], Any] = {}
    for option in OPTIONS:
        where = (option.section, option.key)
        if where not in merged:
            if option.default is None:
                raise ConfigError(
                    f"[{option.section}] {option.key} is required: {option.doc.rstrip('.')} "
                    f"(set it in config.toml or {ENV_PREFIX}{option.section.upper()}_{option.key.upper()})"
                )
            values[where] = option.default
            continue
        try:
            values[where] = option.parse(merged[where])
        except ValueError as exc:
            raise ConfigError(
                f"[{option.section}] {option.key} must be {exc} (got {merged[where]!r})"
            ) from None
    lease, timeout = values[("federation", "delivery_lease")], values[("federation", "delivery_timeout")]
    if ("federation", "delivery_lease") not in merged:  # the default grows with a long delivery_timeout
        values[("federation", "delivery_lease")] = lease = max(lease, 8 * timeout)
    if lease < 8 * timeout:
        raise ConfigError(f"[federation] delivery_lease must be at least 8 x delivery_timeout ({8 * timeout} s): a "
                          f"batch can run that long, and a shorter lease lets another worker send it again "
                          f"(got {lease})")
    if not values[("database", "url")]:
        folder = config_path.parent if config_path else Path.cwd()
        values[("database", "url")] = f"sqlite:///{(folder / 'linkblog.db').resolve()}"
    return Config(values=values, path=config_path, given=frozenset(merged))


def example_toml() -> str:
    """The documented example config, generated from OPTIONS so docs and defaults never drift."""
    lines = ["# linkblog configuration. Every option, with its default.",
             "# Environment variables override the file: LINKBLOG_<SECTION>_<KEY>, e.g. LINKBLOG_SITE_BASE_URL.", ""]
    section = None
    for option in OPTIONS:
        if option.section != section:
            if section is not None:
                lines.append("")
            lines.append(f"[{option.section}]")
            section = option.section
        lines.append(f"# {option.doc}")
        if option.default is None:
            example = "https://links.example.org" if option.key == "base_url" else "<generated by linkblog init>"
            lines.append(f"# required, e.g.\n{option.key} = {_toml_value(example)}")
        else:
            lines.append(f"{option.key} = {_toml_value(option.default)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    import json

    return json.dumps(str(value), ensure_ascii=False)  # JSON's string escapes are all valid TOML ones


def render_toml(values: dict[tuple[str, str], Any], comment: str = "") -> str:
    """A config file holding ``values``, sections and keys in OPTIONS order (what restore writes)."""
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    section = None
    for option in OPTIONS:
        where = (option.section, option.key)
        if where not in values:
            continue
        if option.section != section:
            lines += ["", f"[{option.section}]"] if lines else [f"[{option.section}]"]
            section = option.section
        lines.append(f"{option.key} = {_toml_value(values[where])}")
    return "\n".join(lines) + "\n"


def read_toml_values(path: Path) -> dict[tuple[str, str], Any]:
    """The (section, key) values written in a config file, before defaults and environment."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    return {(s, k): v for s, table in raw.items() if isinstance(table, dict) for k, v in table.items()}


def write_config_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically, readable by its owner only (it holds the secret key)."""
    from .files import write_atomically

    write_atomically(path, lambda handle: handle.write(text))
