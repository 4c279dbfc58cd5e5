"""Settings of the page-copy tests: the test web lives on loopback (127.0.0.x), so the SSRF guard is in allow
mode there, and the limits are short so a hostile page costs a test seconds, not minutes."""
from __future__ import annotations

COPY_SETTINGS = {"copies.mode": "all", "federation.allow_private_addresses": True, "copies.timeout": 2, "copies.host_gap": 0,
                 "copies.import_interval": 0, "copies.max_bytes": 1024 * 1024, "copies.max_redirects": 3}

__all__ = ["COPY_SETTINGS"]
