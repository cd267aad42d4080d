"""Whether an image file is complete: truncated JPEG / PNG detection.

OpenCV decodes a JPEG whose second half is lost without a word, filling the
lost rows with flat grey, so ``cv2.imdecode`` succeeding proves nothing.
Two checks, on the bytes of a file:

* :func:`truncation_problem` (cheap, for every image load): a JPEG must end
  with its end-of-image marker ``FF D9``, a PNG with its ``IEND`` chunk.
  Only when the marker is missing is the image decoded in full with Pillow
  (a file may carry harmless bytes after a complete image), and then it is
  accepted if Pillow decodes it completely.
* :func:`decode_problem` (thorough, for ``check_images='decode'``): Pillow
  ``verify()`` (chunk checksums of a PNG) and a full ``load()``, with
  truncated images not allowed, whatever ``PIL.ImageFile.
  LOAD_TRUNCATED_IMAGES`` says.

Both return None for a sound file, else a one-line description. Formats
Pillow does not know are left to OpenCV's decoder.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageFile

JPEG_SOI = b'\xff\xd8'
JPEG_EOI = b'\xff\xd9'
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
PNG_IEND = b'\x00\x00\x00\x00IEND\xaeB`\x82'


@contextmanager
def _truncated_images_refused() -> Iterator[None]:
    """Pillow raises on a truncated image inside this block."""
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _missing_end_marker(data: bytes) -> str | None:
    """Which end marker ``data`` lacks, or None (also for other formats)."""
    if data.startswith(JPEG_SOI) and not data.endswith(JPEG_EOI):
        return 'JPEG without its end-of-image marker (FF D9)'
    if data.startswith(PNG_SIGNATURE) and not data.endswith(PNG_IEND):
        return 'PNG without its IEND chunk at the end'
    return None


def _pillow_error(data: bytes) -> str | None:
    """Pillow's complaint when decoding ``data`` fully, or None.

    An image Pillow cannot identify (a format only OpenCV reads), or too
    large for Pillow's decompression-bomb limit, is not judged here.
    """
    try:
        with warnings.catch_warnings(), _truncated_images_refused():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except (Image.UnidentifiedImageError, Image.DecompressionBombError):
        return None
    except Exception as err:  # Pillow's decoders raise many types
        return ' '.join(str(err).split()) or type(err).__name__
    return None


def decode_problem(data: bytes) -> str | None:
    """Decode ``data`` fully with Pillow; what is wrong, or None."""
    error = _pillow_error(data)
    if error is None:
        return None
    missing = _missing_end_marker(data)
    what = f'truncated: {missing}' if missing else 'truncated or corrupt'
    return f'{what} ({len(data)} bytes; Pillow: {error})'


def truncation_problem(data: bytes) -> str | None:
    """Cheap check of a JPEG / PNG end marker; what is wrong, or None.

    A missing marker is confirmed by a full decode before it is reported,
    so harmless bytes after a complete image pass.
    """
    if _missing_end_marker(data) is None:
        return None
    return decode_problem(data)


__all__ = ['decode_problem', 'truncation_problem']
