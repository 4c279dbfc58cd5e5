"""The one guarded HTTP client for every remote fetch and delivery.

Anything the fediverse hands us (actor ids, key ids, inboxes, WebFinger hosts) is attacker-chosen,
so every request goes through here: https only (saved web pages may also be plain http:
``FetchPolicy.plain_http``), no private or otherwise special addresses, a bounded number of redirects, time
limits and a body cap.

``FetchClient`` (sync, for the web process) and ``AsyncFetchClient`` (for the delivery worker) are
thin wrappers around one ``FetchPolicy`` (``client``, ``policy``). The rules live beside them:
``guard`` (address policy, DNS, the pinned-address connections), ``rules`` (URL, redirect, status,
type and size checks shared by both clients), ``documents`` (what comes back, JSON and id checks),
``webfinger``, ``probe`` (a link check's HEAD/GET: every hop and the final status, no raise on 4xx)
and ``errors``. Callers import from this package.
"""
from __future__ import annotations

from .client import AsyncFetchClient, FetchClient
from .deadline import deadline
from .documents import (AP_ACCEPT, AP_CONTENT_TYPE, AP_CONTENT_TYPES, AS_PROFILE, Delivery, Fetched, checked_document,
                        media_type, parse_json_object, parse_retry_after)
from .errors import (BadContentType, BadDocument, BadURL, BlockedAddress, ConnectionFailed, FetchError, FetchTimeout,
                     HTTPStatusError, IdMismatch, TooLarge, TooManyRedirects)
from .guard import AsyncGuardedBackend, GuardedBackend, aresolve, check_address, resolve
from .policy import FetchPolicy, user_agent, warn_if_private_allowed
from .probe import Probed
from .rules import checked_url
from .webfinger import (JRD_ACCEPT, JRD_CONTENT_TYPES, actor_from_jrd, moving_on_from_failure, parse_handle,
                        subject_of, webfinger_attempts, webfinger_url)

__all__ = [
    "AP_ACCEPT", "AP_CONTENT_TYPE", "AP_CONTENT_TYPES", "AS_PROFILE", "AsyncFetchClient", "AsyncGuardedBackend",
    "BadContentType", "BadDocument", "BadURL", "BlockedAddress", "ConnectionFailed", "Delivery", "FetchClient",
    "FetchError", "FetchPolicy", "FetchTimeout", "Fetched", "GuardedBackend", "HTTPStatusError", "IdMismatch",
    "JRD_ACCEPT", "JRD_CONTENT_TYPES", "Probed", "TooLarge", "TooManyRedirects", "actor_from_jrd", "aresolve",
    "check_address", "checked_document", "checked_url", "deadline", "media_type", "moving_on_from_failure", "parse_handle",
    "parse_json_object", "parse_retry_after", "resolve", "subject_of", "user_agent", "warn_if_private_allowed",
    "webfinger_attempts", "webfinger_url",
]
