"""Colour statistics of a product photo: the NumPy reference for `ColourStatistics` (lt_colour_statistics).

The attribute heads get these beside the encoder's pooled features: the ImageNet features pooled over the
photo lose a small saturated stone (a few pixels of a clear hue) and the few percent of colour by which
the metals differ. The input is the encoder's view, an (H, W, 3) RGB array in [0, 1] (the photo padded to
a square and resized); everything is computed in float64.

Layout of the 309 values:
  background colour (3), its chromaticity (3)                      the median of the border pixels
  10×10 histogram of the piece's (r, g) chromaticity (100)         over r ∈ [0.2, 0.6], g ∈ [0.2, 0.45]
  histogram of the piece's brightness max(r, g, b) (10)            the piece: pixels whose L1 distance to
  the piece's RGB quantiles 0.1 0.25 0.5 0.75 0.9 0.97 (18)          the background exceeds 0.15 (or the
  its chromaticity quantiles 0.1 0.5 0.9 (9)                         500 most distant, stably sorted, when
  its mean, standard deviation, mean chromaticity (3 + 3 + 3)        fewer than 50 do); histograms are
  its mean relative to the background (3)                            fractions of the piece
  log(1 + count) hue histograms, 24 bins, of all pixels with saturation above 0.25, 0.5, 0.75 and value
  above 0 and 0.3 (6 × 24), and a 10-bin value histogram of pixels with saturation below 0.15 (10)
Histograms follow numpy.histogram: equal bins over the range, the last bin closed, values outside ignored.
HSV: v = max, s = (max − min) / max (0 for black), h in [0, 1) from the largest channel (r, then g, then b).
"""
import numpy as np

WIDTH = 309


def hsv(image):
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    v = image.max(-1)
    c = v - image.min(-1)
    s = np.where(v > 0, c / np.where(v > 0, v, 1), 0.0)
    safe = np.where(c > 0, c, 1)
    h = np.where(v == r, np.mod((g - b) / safe, 6), np.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    h = np.where(c > 0, h, 0.0)
    return h, s, v


def colour_statistics(image):
    im = np.asarray(image, dtype=np.float64)
    assert im.ndim == 3 and im.shape[2] == 3, "an (H, W, 3) image"
    border = np.concatenate([im[0], im[-1], im[:, 0], im[:, -1]])
    bg = np.median(border, axis=0)
    px = im.reshape(-1, 3)
    distance = np.abs(im - bg).sum(-1).ravel()
    fg = px[distance > 0.15]
    if len(fg) < 50:
        fg = px[np.sort(np.argsort(-distance, kind="stable")[:500])]
    chroma = fg / (fg.sum(-1, keepdims=True) + 1e-3)
    hist2d, _, _ = np.histogram2d(chroma[:, 0], chroma[:, 1], bins=10, range=[[0.2, 0.6], [0.2, 0.45]])
    brightness, _ = np.histogram(fg.max(-1), bins=10, range=(0, 1))
    parts = [bg, bg / (bg.sum() + 1e-3), hist2d.ravel() / len(fg), brightness / len(fg),
             np.quantile(fg, [0.1, 0.25, 0.5, 0.75, 0.9, 0.97], axis=0).ravel(),
             np.quantile(chroma, [0.1, 0.5, 0.9], axis=0).ravel(),
             fg.mean(0), fg.std(0), chroma.mean(0), fg.mean(0) / (bg + 1e-3)]
    h, s, v = (a.ravel() for a in hsv(im))
    for smin in [0.25, 0.5, 0.75]:
        for vmin in [0.0, 0.3]:
            parts.append(np.log1p(np.histogram(h[(s > smin) & (v > vmin)], bins=24, range=(0, 1))[0]))
    parts.append(np.log1p(np.histogram(v[s < 0.15], bins=10, range=(0, 1))[0]))
    out = np.concatenate([np.ravel(p) for p in parts])
    assert out.shape == (WIDTH,)
    return out
