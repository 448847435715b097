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


def _shrink(img: Image.Image, side: int) -> Image.Image:
    if max(img.size) <= side:
        return img
    copy = img.copy()
    # reducing_gap: a cheap integer downscale first, then Lanczos (halves the time on phone photos).
    copy.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return copy


def _encode(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    # No exif=, icc_profile= or comment=: Pillow writes none of them unless asked. No optimize=:
    # it costs a second pass (+0.2 s on a 3 MB photo) to save about 4 %.
    img.save(buf, "JPEG", quality=quality)
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
                ImageOps.exif_transpose(img, in_place=True)
                rgb = img if img.mode == "RGB" else img.convert("RGB")
                full_img = _shrink(rgb, FULL_SIDE)
                thumb_img = _shrink(full_img, THUMB_SIDE)
                width, height = rgb.size
                full, thumb = _encode(full_img, 85), _encode(thumb_img, 78)
    except PhotoError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(type(exc).__name__) from None
    except Image.DecompressionBombWarning:
        raise PhotoTooLarge("decompression bomb") from None
    return Photo(full=full, thumb=thumb, width=width, height=height)
