"""Real bad PDFs and documents for tests, made from the shipped samples (pypdf, Pillow)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def encrypted_pdf(dst: Path, password: str = "secret") -> Path:
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(SAMPLES / "en" / "R-data.pdf")
    w = PdfWriter()
    for page in reader.pages[:2]:
        w.add_page(page)
    w.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    with open(dst, "wb") as fh:
        w.write(fh)
    return dst


def truncated_pdf(dst: Path) -> Path:
    data = (SAMPLES / "en" / "R-data.pdf").read_bytes()
    dst.write_bytes(data[: len(data) // 7])
    return dst


def image_only_pdf(dst: Path, pages: int = 2) -> Path:
    from PIL import Image, ImageDraw

    imgs = []
    for i in range(pages):
        im = Image.new("RGB", (600, 800), "white")
        ImageDraw.Draw(im).text((50, 50), f"scanned page {i + 1}: this text is pixels only", fill="black")
        imgs.append(im)
    imgs[0].save(dst, "PDF", save_all=True, append_images=imgs[1:])
    return dst


def small_pdf(dst: Path, pages: int = 3) -> Path:
    """The first pages of a real sample PDF."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(SAMPLES / "en" / "R-FAQ.pdf")
    w = PdfWriter()
    for page in reader.pages[4 : 4 + pages]:
        w.add_page(page)
    with open(dst, "wb") as fh:
        w.write(fh)
    return dst


def many_page_pdf(dst: Path, pages: int = 2000) -> Path:
    """A long real PDF: one sample page repeated."""
    from pypdf import PdfReader, PdfWriter

    page = PdfReader(SAMPLES / "en" / "R-FAQ.pdf").pages[6]
    w = PdfWriter()
    for _ in range(pages):
        w.add_page(page)
    with open(dst, "wb") as fh:
        w.write(fh)
    return dst


def gbk_text(dst: Path) -> Path:
    text = "第一条 为了保证食品安全，保障公众身体健康和生命安全，制定本法。\n\n第二条 在中华人民共和国境内从事食品生产和加工，应当遵守本法。\n"
    dst.write_bytes(text.encode("gbk"))
    return dst
