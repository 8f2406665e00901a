"""Preview images of uploads, made on the server without executing anything in them.

Images (PNG, JPEG, GIF's first frame, WebP, BMP, TIFF) are decoded by Pillow, opened with
only the decoder their detected type names (so no other Pillow plugin, such as EPS, which
would start Ghostscript, ever sees the bytes); the declared size is checked before any
pixel is decoded, so a decompression bomb is refused, not expanded. EXIF orientation is
applied, then the pixels are copied into a new image: no EXIF, GPS, XMP, ICC profile or
text chunk reaches the preview.

PDFs: the first page is rendered by PDFium (pypdfium2) with no form environment (so no
JavaScript, which this PDFium build lacks anyway, and no XFA) and nothing fetched; a
password-protected PDF has no preview. The bitmap then takes the image path.

SVG never gets a preview (it can carry script), nor does any other type.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps

from overleg.files.content import Detected

MAX_PX = 512
MAX_PIXELS = 50_000_000
"""Largest source image decoded (width x height): about a 50 megapixel photo."""
MAX_PDF_POINTS = 14_400 * 8
"""Largest PDF page side in points that is rendered (PDF's own limit is 14,400 units,
which a UserUnit can scale)."""

_PILLOW_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/x-ms-bmp": "BMP",
    "image/tiff": "TIFF",
}

# PDFium is not thread-safe: one document at a time in this process
_PDFIUM = threading.Lock()


@dataclass(frozen=True)
class Preview:
    content_type: str
    data: bytes
    width: int
    height: int


class PreviewRefused(ValueError):
    """The file cannot get a preview: too large (a decompression bomb) or unreadable. The
    message says which, without quoting the file."""


def preview(
    data: bytes,
    detected: Detected,
    *,
    max_px: int = MAX_PX,
    max_pixels: int = MAX_PIXELS,
    output: Literal["webp", "png"] = "webp",
) -> Preview | None:
    """A preview at most ``max_px`` on its longer side (never enlarged), as WebP or PNG;
    None for types without previews and for password-protected PDFs; ``PreviewRefused``
    for bombs and unreadable files."""
    if max_px < 1:
        raise ValueError("max_px must be positive")
    pillow_format = _PILLOW_FORMATS.get(detected.mime)
    if pillow_format is not None:
        image = _open_image(data, pillow_format, max_pixels, max_px)
        return _encode(image, max_px, output)
    if detected.mime == "application/pdf":
        page = _render_first_page(data, max_px)
        return None if page is None else _encode(page, max_px, output)
    return None


def _open_image(data: bytes, pillow_format: str, max_pixels: int, max_px: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow warns (then refuses) above Image.MAX_IMAGE_PIXELS; a warning is a refusal
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[pillow_format])
            width, height = image.size
            if width < 1 or height < 1:
                raise PreviewRefused("the image has no pixels")
            if width * height > max_pixels:
                raise PreviewRefused(
                    f"the image is {width} x {height} pixels; previews are made for at most "
                    f"{max_pixels} pixels"
                )
            image.seek(0)  # the first frame of an animation or a multi-page TIFF
            if pillow_format == "JPEG":
                # decode at 1/2, 1/4 or 1/8 scale when that is still large enough
                image.draft("RGB", (max_px, max_px))
            image.load()
            return image
    except PreviewRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PreviewRefused(f"the image declares too many pixels ({exc})") from None
    except Exception:
        raise PreviewRefused(f"the file is not a readable {pillow_format} image") from None


def _render_first_page(data: bytes, max_px: int) -> Image.Image | None:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                return None
            raise PreviewRefused("the file is not a readable PDF") from None
        try:
            if len(pdf) < 1:
                raise PreviewRefused("the PDF has no pages")
            page = pdf[0]
            try:
                width, height = page.get_size()
                if not (0 < width <= MAX_PDF_POINTS and 0 < height <= MAX_PDF_POINTS):
                    raise PreviewRefused("the PDF's first page has no usable size")
                scale = max_px / max(width, height)
                if not math.isfinite(scale) or scale <= 0:
                    raise PreviewRefused("the PDF's first page has no usable size")
                bitmap = page.render(scale=scale, may_draw_forms=False)
                try:
                    image: Image.Image = bitmap.to_pil()
                    image.load()
                    return image.copy()
                finally:
                    bitmap.close()
            finally:
                page.close()
        except PreviewRefused:
            raise
        except Exception:
            raise PreviewRefused("the PDF's first page cannot be rendered") from None
        finally:
            pdf.close()


def _encode(image: Image.Image, max_px: int, output: Literal["webp", "png"]) -> Preview:
    try:
        image = ImageOps.exif_transpose(image)
        alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if alpha else "RGB")
        image.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    except Exception:
        raise PreviewRefused("the image cannot be decoded") from None
    # a new image from the pixels only: no EXIF, GPS, XMP, ICC profile or text travels along
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    if output == "webp":
        clean.save(out, "WEBP", quality=80, method=4)
        content_type = "image/webp"
    else:
        clean.save(out, "PNG", optimize=True)
        content_type = "image/png"
    return Preview(content_type, out.getvalue(), clean.width, clean.height)
