"""The owner's avatar: an uploaded image made safe to serve (a pure helper: bytes in, bytes out).

Every upload is decoded and drawn again, never stored as sent: the size is checked before decoding
(``max_bytes``) and the pixel count from the header before the pixels are read (``max_pixels``, the
decompression-bomb guard), the picture is turned upright from its EXIF orientation, shrunk to fit
``SIDE`` x ``SIDE``, and re-encoded as PNG (when it has transparency) or JPEG without any metadata:
EXIF (camera, GPS position), XMP, ICC profiles and comments are all left behind.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

SIDE = 400  # the longest side served; Mastodon shows avatars at 400x400 at most
JPEG_QUALITY = 85
ACCEPTED = ("JPEG", "PNG", "GIF", "WEBP")


class AvatarError(ValueError):
    """The upload is not an image we take; the message says what to send instead."""


@dataclass(frozen=True)
class Avatar:
    data: bytes
    media_type: str
    width: int
    height: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def human_size(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB" if count >= 1_000_000 else f"{max(count // 1000, 1)} kB"


def too_large(max_bytes: int) -> str:
    return (f"The avatar file is larger than {human_size(max_bytes)}, the most accepted ([site] avatar_max_bytes): "
            "choose a smaller image.")


def process(upload: bytes, *, max_bytes: int, max_pixels: int) -> Avatar:
    """Check, decode, orient, shrink and re-encode ``upload``; raises AvatarError with a sentence."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not upload:
        raise AvatarError("The avatar file is empty: choose a JPEG, PNG, GIF or WebP image.")
    if len(upload) > max_bytes:
        raise AvatarError(too_large(max_bytes))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(upload))  # reads the header only
            if image.format not in ACCEPTED:
                raise AvatarError(f"The avatar is a {image.format} image; choose a JPEG, PNG, GIF or WebP one.")
            width, height = image.size
            if width * height > max_pixels:
                raise AvatarError(f"The avatar is {width}x{height} pixels; the most accepted is {max_pixels:,} "
                                  "pixels in all ([site] avatar_max_pixels). Choose a smaller image.")
            image.seek(0)  # the first frame of an animation
            image.load()
    except AvatarError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AvatarError("The avatar file is not an image we can read: choose a JPEG, PNG, GIF or WebP "
                          "image.") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise AvatarError("The avatar image is damaged or cut short: choose another file.") from None
    image = ImageOps.exif_transpose(image)  # upright, as the camera meant it; the EXIF goes with the pixels below
    image.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
    transparent = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    clean = Image.new("RGBA" if transparent else "RGB", image.size)
    clean.paste(image.convert(clean.mode))  # pixels only: no info, EXIF, ICC or XMP travels to the new image
    out = io.BytesIO()
    if transparent:
        clean.save(out, "PNG", optimize=True)
        media_type = "image/png"
    else:
        clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        media_type = "image/jpeg"
    return Avatar(out.getvalue(), media_type, clean.width, clean.height)
