"""What every screenshot test checks and keeps: errors in the page's console, a screenshot (copied to
bench/out/screens/ with LINKBLOG_KEEP_SCREENS=1, to look at), and no horizontal overflow."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

KEEP = Path(__file__).resolve().parents[2] / "bench" / "out" / "screens"
WIDER_THAN_THE_SCREEN = """() => [document.scrollingElement.scrollWidth, window.innerWidth,
    [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 5).map(e => e.tagName + '.' + e.className)]"""


def watch_errors(page) -> list[str]:  # noqa: ANN001
    """The console errors and uncaught exceptions of ``page`` from now on (a CSP violation is one)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def shoot(page, file: Path, *, whole: bool = True) -> Path:  # noqa: ANN001
    """Screenshot ``page`` into ``file`` (the whole page unless ``whole`` is False) and keep a copy if asked."""
    page.screenshot(path=str(file), full_page=whole)
    print(f"screenshot: {file}")
    if os.environ.get("LINKBLOG_KEEP_SCREENS"):
        KEEP.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, KEEP / file.name)
    return file


def assert_fits(page) -> None:  # noqa: ANN001
    """Nothing sticks out sideways: the page is no wider than the window (naming what sticks out if it does)."""
    scroll_width, window_width, wide = page.evaluate(WIDER_THAN_THE_SCREEN)
    assert scroll_width <= window_width, f"wider than the screen: {scroll_width} > {window_width}: {wide}"
