#!/usr/bin/python3
"""Regenerates the committed test images and their expected pixels.

Run with Debian's python3 (python3-pil):  /usr/bin/python3 make_images.py
Expected pixels come from PIL, the reference decoder: PIL links the same libjpeg-turbo, so JPEG pixels
must match exactly; PNG expectations are computed from the values written.
"""
import io, json, struct, zlib
from PIL import Image, ImageOps

out = {}

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

def png(width, height, bit_depth, color_type, rows, extra=b""):
    """A PNG from raw scanlines (filter byte 0 added here)."""
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

def composite(c, a):
    return (c * a + 255 * (255 - a) + 127) // 255

# 8-bit RGB, 4x3, every pixel distinct.
rgb = [[(10 * x + 60 * y, 255 - 20 * x, 7 * x * y) for x in range(4)] for y in range(3)]
open("rgb8.png", "wb").write(png(4, 3, 8, 2, [bytes(v for p in row for v in p) for row in rgb]))
out["rgb8.png"] = {"width": 4, "height": 3, "pixels": [v for row in rgb for p in row for v in p]}

# 8-bit RGBA, 2x2: alpha composited on white.
rgba = [[(200, 0, 0, 255), (0, 200, 0, 128)], [(0, 0, 200, 0), (100, 50, 25, 64)]]
open("rgba8.png", "wb").write(png(2, 2, 8, 6, [bytes(v for p in row for v in p) for row in rgba]))
out["rgba8.png"] = {"width": 2, "height": 2,
                    "pixels": [composite(p[c], p[3]) for row in rgba for p in row for c in range(3)]}

# 8-bit grayscale, 3x2.
gray = [[0, 128, 255], [17, 34, 51]]
open("gray8.png", "wb").write(png(3, 2, 8, 0, [bytes(row) for row in gray]))
out["gray8.png"] = {"width": 3, "height": 2, "pixels": [g for row in gray for g in row for _ in range(3)]}

# 16-bit grayscale + alpha, 2x1: scaled to 8 bits with rounding, then composited.
ga16 = [(65535, 65535), (257 * 100, 257 * 50)]
open("graya16.png", "wb").write(png(2, 1, 16, 4, [b"".join(struct.pack(">HH", g, a) for g, a in ga16)]))
def s16(v): return (v * 255 + 32767) // 65535
out["graya16.png"] = {"width": 2, "height": 1,
                      "pixels": [composite(s16(g), s16(a)) for g, a in ga16 for _ in range(3)]}

# 16-bit RGB, 2x1.
rgb16 = [(65535, 0, 32768), (1000, 20000, 40000)]
open("rgb16.png", "wb").write(png(2, 1, 16, 2, [b"".join(struct.pack(">HHH", *p) for p in rgb16)]))
out["rgb16.png"] = {"width": 2, "height": 1, "pixels": [s16(v) for p in rgb16 for v in p]}

# Palette with transparency (tRNS), 3x1, 8-bit indices.
palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
trns = bytes([255, 0, 100])
open("palette.png", "wb").write(png(3, 1, 8, 3, [bytes([0, 1, 2])],
                                    chunk(b"PLTE", bytes(v for p in palette for v in p)) + chunk(b"tRNS", trns)))
out["palette.png"] = {"width": 3, "height": 1,
                      "pixels": [composite(palette[i][c], trns[i]) for i in range(3) for c in range(3)]}

# 1-bit grayscale, 8x1: bits 10110000.
open("gray1.png", "wb").write(png(8, 1, 1, 0, [bytes([0b10110000])]))
out["gray1.png"] = {"width": 8, "height": 1, "pixels": [255 * b for b in (1, 0, 1, 1, 0, 0, 0, 0) for _ in range(3)]}

# JPEGs: an asymmetric 24x16 pattern so every orientation is distinguishable.
base = Image.new("RGB", (24, 16))
for y in range(16):
    for x in range(24):
        base.putpixel((x, y), (255 if x < 8 else 0, 255 if y < 8 else 40, 200 if x >= 16 else 0))

def jpeg_bytes(image, **kw):
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=95, subsampling=0, **kw)
    return buf.getvalue()

def expect(name, data):
    decoded = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    out[name] = {"width": decoded.width, "height": decoded.height, "pixels": list(decoded.tobytes())}

for name, kw in [("baseline.jpg", {}), ("progressive.jpg", {"progressive": True})]:
    data = jpeg_bytes(base, **kw)
    open(name, "wb").write(data)
    expect(name, data)

for orientation in range(1, 9):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = jpeg_bytes(base, exif=exif.tobytes())
    name = f"exif{orientation}.jpg"
    open(name, "wb").write(data)
    expect(name, data)

# Reduced decoding (libjpeg's scaled IDCT, PIL's draft mode): a 64x48 photo-like JPEG (4:2:0 chroma) decoded
# at 1/4 (16x12) and at 1/2 (32x24), and exif6.jpg at 1/2, then oriented.
photo = Image.new("RGB", (64, 48))
for y in range(48):
    for x in range(64):
        photo.putpixel((x, y), ((4 * x + y) % 256, (3 * y + 2 * x) % 256, 255 - 3 * x if (x // 8 + y // 8) % 2 else 40 + y))
reduced = io.BytesIO()
photo.save(reduced, "JPEG", quality=90)
open("reduced.jpg", "wb").write(reduced.getvalue())

def expect_draft(key, name, size):
    image = Image.open(name)
    image.draft("RGB", size)
    decoded = ImageOps.exif_transpose(image).convert("RGB")
    out[key] = {"width": decoded.width, "height": decoded.height, "pixels": list(decoded.tobytes())}

expect_draft("reduced.jpg@16", "reduced.jpg", (16, 12))
expect_draft("reduced.jpg@32", "reduced.jpg", (32, 24))
expect_draft("exif6.jpg@12", "exif6.jpg", (12, 8))

# Bad inputs.
baseline = open("baseline.jpg", "rb").read()
open("truncated.jpg", "wb").write(baseline[: len(baseline) // 2])
rgb8 = open("rgb8.png", "rb").read()
open("truncated.png", "wb").write(rgb8[: len(rgb8) - 30])
open("not-an-image.txt", "wb").write(b"hello, this is text, not a photo\n")
open("empty.jpg", "wb").write(b"")
# A PNG whose IHDR says 0 x 5.
open("zero.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 5, 8, 2, 0, 0, 0)) + chunk(b"IEND", b""))
# Headers that claim 100000 x 100000 pixels (10 gigapixels) with almost no data behind them.
open("huge.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) + chunk(b"IEND", b""))
sof = baseline.index(b"\xff\xc0")
huge = bytearray(baseline)
huge[sof + 5: sof + 9] = struct.pack(">HH", 60000, 60000)
open("huge.jpg", "wb").write(bytes(huge))
# A PNG whose IDAT checksum is wrong.
corrupt = bytearray(rgb8)
idat = corrupt.index(b"IDAT")
corrupt[idat + 6] ^= 0xFF
open("corrupt.png", "wb").write(bytes(corrupt))

json.dump(out, open("expected.json", "w"), indent=0)
print("wrote", len(out), "expectations")
