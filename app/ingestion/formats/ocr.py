"""OCR for scanned PDF pages and image files, with RapidOCR (its wheel carries its models).

RapidOCR's PP-OCRv4 models read English and Chinese on the CPU through ONNX Runtime; nothing
is downloaded at run time. ``RAG_OCR``: ``auto`` reads only pages without a text layer,
``force`` every PDF page, ``off`` none.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from app.ingestion.formats.model import (
    OCR_EXTRA,
    Page,
    ParsedDocument,
    UnreadableDocument,
    require,
)

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"})
OCR_MODES = ("auto", "off", "force")
ENGINE_PACKAGE = "rapidocr-onnxruntime"
MAX_PIXELS = 40_000_000
"""Larger images (decompression bombs) are refused before they are decoded."""


def ocr_engine() -> str | None:
    """The OCR engine that is installed, found without importing it (None when there is none)."""
    return ENGINE_PACKAGE if importlib.util.find_spec("rapidocr_onnxruntime") else None


def ocr_hint() -> str:
    """What to run to get an OCR engine."""
    return f'pip install "{OCR_EXTRA}"'


@lru_cache(maxsize=1)
def _engine() -> Any:
    module = require("rapidocr_onnxruntime", ENGINE_PACKAGE, OCR_EXTRA)
    return module.RapidOCR()


def read_images(images: Sequence[Image], what: str) -> list[str]:
    """The text of each image, lines in reading order; a progress bar on a terminal."""
    import numpy as np
    from tqdm import tqdm

    engine = _engine()
    texts = []
    bar = tqdm(
        images,
        desc=f"OCR {what}",
        unit="page",
        file=sys.stderr,
        leave=False,
        disable=not sys.stderr.isatty(),
    )
    for image in bar:
        result, _ = engine(np.asarray(image.convert("RGB")))
        texts.append("\n".join(str(line[1]) for line in result or ()).strip())
    return texts


def parse_image(data: bytes, fallback_title: str, mode: str) -> ParsedDocument:
    """An image file's text by OCR."""
    if mode == "off":
        raise UnreadableDocument("image needs OCR, which is off (RAG_OCR=off)")
    pil = require("PIL.Image", "Pillow", OCR_EXTRA)
    try:
        with pil.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UnreadableDocument(f"image too large for OCR ({width}x{height} pixels)")
            image.load()
            frames = [image.copy()]
    except UnreadableDocument:
        raise
    except Exception as error:  # Pillow raises many kinds on damaged images
        raise UnreadableDocument(f"broken image ({type(error).__name__}: {error})") from None
    (text,) = read_images(frames, fallback_title)
    if not text:
        raise UnreadableDocument("no text found by OCR in image")
    return ParsedDocument(fallback_title, (Page(text),))


def ocr_pdf_pages(data: bytes, numbers: Sequence[int], what: str) -> list[Page]:
    """OCR of the given 1-based pages of a PDF, rendered at 144 dpi with PDFium."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        images = [document[number - 1].render(scale=2).to_pil() for number in numbers]
    finally:
        document.close()
    texts = read_images(images, what)
    return [Page(text, number) for number, text in zip(numbers, texts, strict=True) if text]
