"""Previews: right size, no metadata, bombs refused, PDFs rendered, SVG never."""

from __future__ import annotations

import io
import warnings

import pytest
from PIL import Image

from overleg.files.content import detect, detect_full
from overleg.files.previews import Preview, PreviewRefused, preview
from tests.files.content import samples


def _preview(data: bytes, name: str, **options: object) -> Preview | None:
    return preview(data, detect_full(data, name), **options)  # type: ignore[arg-type]


def _open(p: Preview) -> Image.Image:
    image = Image.open(io.BytesIO(p.data))
    image.load()
    assert image.size == (p.width, p.height)
    assert image.format == {"image/webp": "WEBP", "image/png": "PNG"}[p.content_type]
    return image


def _assert_no_metadata(p: Preview) -> None:
    image = _open(p)
    assert len(image.getexif()) == 0
    for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "dpi", "comment"):
        assert key not in image.info, key
    assert not any(isinstance(v, str) for v in image.info.values()), image.info
    for marker in (b"Exif", b"SecretCam", b"GPS", b"ICC_PROFILE", b"iCCP", b"tEXt", b"XMP"):
        assert marker not in p.data, marker


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("PNG", "a.png"), ("JPEG", "a.jpg"), ("WEBP", "a.webp"), ("BMP", "a.bmp"), ("TIFF", "a.tif")],
)
def test_images_are_scaled_to_fit(fmt: str, name: str) -> None:
    p = _preview(samples.image(fmt, (2000, 1000), "green"), name)
    assert p is not None
    assert (p.content_type, p.width, p.height) == ("image/webp", 512, 256)
    r, g, b = _open(p).convert("RGB").getpixel((256, 128))  # type: ignore[misc]
    assert g > 100 and r < 60 and b < 60
    _assert_no_metadata(p)


def test_small_images_are_not_enlarged_and_png_output() -> None:
    p = _preview(samples.image("PNG", (30, 70)), "a.png", output="png")
    assert p is not None
    assert (p.content_type, p.width, p.height) == ("image/png", 30, 70)
    _assert_no_metadata(p)


def test_exif_orientation_applied_and_gps_stripped() -> None:
    photo = samples.two_colour_jpeg_with_gps((400, 200))
    source = Image.open(io.BytesIO(photo))
    assert source.getexif().get_ifd(0x8825)  # the sample does carry GPS
    assert b"SecretCam" in photo

    p = _preview(photo, "IMG_0001.JPG", max_px=100)
    assert p is not None
    assert (p.width, p.height) == (50, 100)  # orientation 6: shown upright, portrait
    image = _open(p).convert("RGB")
    top = image.getpixel((25, 10))
    bottom = image.getpixel((25, 90))
    assert top[0] > 180 and top[2] < 80, top  # type: ignore[index]
    assert bottom[2] > 180 and bottom[0] < 80, bottom  # type: ignore[index]
    _assert_no_metadata(p)


def test_icc_profile_and_text_chunks_are_stripped() -> None:
    from PIL import ImageCms, PngImagePlugin

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jan de Vries")
    info.add_text("Location", "Kamer 12")
    data = samples.image("PNG", (64, 64), icc_profile=icc, pnginfo=info)
    assert b"Jan de Vries" in data
    for output in ("webp", "png"):
        p = _preview(data, "a.png", output=output)
        assert p is not None
        assert b"Jan de Vries" not in p.data and b"Kamer" not in p.data
        _assert_no_metadata(p)


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (40, 40), c) for c in ("red", "blue", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    p = _preview(out.getvalue(), "a.gif")
    assert p is not None
    r, _, b = _open(p).convert("RGB").getpixel((20, 20))  # type: ignore[misc]
    assert r > 200 and b < 50


def test_a_declared_decompression_bomb_is_refused() -> None:
    bomb = samples.png_declaring(100_000, 100_000)
    assert len(bomb) < 200
    with pytest.raises(PreviewRefused, match="too many pixels"):
        _preview(bomb, "a.png")


def test_an_image_above_pillows_warning_limit_is_refused() -> None:
    bomb = samples.png_declaring(10_000, 10_000)  # 100 M pixels: Pillow warns, we refuse
    assert Image.MAX_IMAGE_PIXELS is not None
    assert Image.MAX_IMAGE_PIXELS < 10_000 * 10_000 < 2 * Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as in production, not pytest's "error"
        with pytest.raises(PreviewRefused, match="too many pixels"):
            preview(bomb, detect(bomb, "a.png"), max_pixels=200_000_000)


def test_images_above_our_own_limit_are_refused() -> None:
    with pytest.raises(PreviewRefused, match=r"2000 x 1000 pixels; .* at most 1000000"):
        _preview(samples.image("PNG", (2000, 1000)), "a.png", max_pixels=1_000_000)


def test_a_broken_image_is_refused_with_a_clear_error() -> None:
    broken = samples.image("PNG", (300, 300))[:100]
    with pytest.raises(PreviewRefused, match="not a readable PNG image"):
        _preview(broken, "a.png")


def test_svg_and_other_types_get_no_preview() -> None:
    assert _preview(samples.SVG, "logo.svg") is None
    assert _preview(samples.HTML, "a.html") is None
    assert _preview(samples.pe(), "a.png") is None
    assert _preview(samples.docx(), "a.docx") is None


def test_the_detected_type_decides_not_the_name() -> None:
    # JPEG bytes named .png are decoded as the JPEG they are
    p = _preview(samples.image("JPEG", (100, 50)), "a.png")
    assert p is not None
    assert (p.width, p.height) == (100, 50)


# --- PDF ------------------------------------------------------------------------------------


def test_pdf_first_page() -> None:
    pdf = samples.pdf([["Hallo"], ["Tweede pagina"]], size=(595, 842))
    p = _preview(pdf, "v.pdf")
    assert p is not None
    assert p.content_type == "image/webp"
    assert (p.width, p.height) in ((361, 512), (362, 512))
    image = _open(p).convert("L")
    paper = image.getpixel((p.width - 5, p.height - 5))
    darkest, _ = image.getextrema()
    assert isinstance(paper, int) and isinstance(darkest, int)
    assert paper > 240  # white paper
    assert darkest < 100  # and some dark text
    _assert_no_metadata(p)


def test_landscape_pdf_page() -> None:
    p = _preview(samples.pdf([["x"]], size=(842, 595)), "v.pdf", max_px=200)
    assert p is not None
    assert p.width == 200 and p.height in (141, 142)


def test_password_protected_pdf_has_no_preview() -> None:
    locked = samples.encrypted_pdf(samples.pdf([["geheim"]]), user_password="geheim")
    assert _preview(locked, "v.pdf") is None


def test_unreadable_pdf_is_refused() -> None:
    with pytest.raises(PreviewRefused, match="not a readable PDF"):
        _preview(b"%PDF-1.7\n" + bytes(range(256)) * 4, "v.pdf")


def test_max_px_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_px"):
        _preview(samples.image("PNG"), "a.png", max_px=0)
