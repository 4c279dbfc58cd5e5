"""Replace a file atomically: readers see the old file or the complete new one, never half of it."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


def write_atomically(path: Path, write: Callable[[TextIO], None], mode: int = 0o600) -> None:
    """Call ``write`` on a temporary file beside ``path`` (UTF-8, '\\n' line ends), sync it, then rename it
    over ``path``. On any failure the temporary file is removed and ``path`` is left as it was."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
