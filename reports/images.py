"""Photos residents send: verify they are images, re-encode without any metadata, make a small copy.

Phone photos carry EXIF (GPS position, camera, time). Nothing of the original file is kept:
the pixels are decoded, turned upright by the EXIF orientation, and written to a new JPEG
with no EXIF, XMP, ICC or comment — the only way to be sure every tag is gone.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 60_000_000  # a 10 MB JPEG can still decode to gigabytes: refuse decompression bombs
FULL_SIDE = 2048  # enough to see a crack in the road; phone photos are often 4000 px
THUMB_SIDE = 640  # the console's list on a phone
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "HEIF", "MPO", "BMP"}


class PhotoError(ValueError):
    """A photo that cannot be taken (the reason is a catalog key for the resident)."""

    key = "report_photo_invalid"


class NotAnImage(PhotoError):
    key = "report_photo_not_image"


class PhotoTooLarge(PhotoError):
    key = "report_photo_too_large"


@dataclass(frozen=True)
class Photo:
    full: bytes  # JPEG, longest side ≤ FULL_SIDE, no metadata
    thumb: bytes  # JPEG, longest side ≤ THUMB_SIDE
    width: int
    height: int


def _encode(img: Image.Image, side: int, quality: int) -> bytes:
    copy = img.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    # No exif=, icc_profile= or comment=: Pillow writes none of them unless asked.
    copy.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def process(data: bytes, max_bytes: int = MAX_BYTES) -> Photo:
    """Verify and re-encode a photo; raise NotAnImage or PhotoTooLarge."""
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"{len(data)} bytes > {max_bytes}")
    if not data:
        raise NotAnImage("empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ALLOWED_FORMATS:
                    raise NotAnImage(f"format {probe.format}")
                if probe.width * probe.height > MAX_PIXELS:
                    raise PhotoTooLarge(f"{probe.width}x{probe.height} pixels")
                probe.verify()  # structure check; the image must be reopened after verify()
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                upright = ImageOps.exif_transpose(img)
                rgb = upright.convert("RGB")
    except PhotoError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(type(exc).__name__) from None
    except Image.DecompressionBombWarning:
        raise PhotoTooLarge("decompression bomb") from None
    full = _encode(rgb, FULL_SIDE, 85)
    thumb = _encode(rgb, THUMB_SIDE, 78)
    return Photo(full=full, thumb=thumb, width=rgb.width, height=rgb.height)
