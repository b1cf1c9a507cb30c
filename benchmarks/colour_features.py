"""Do hand-made colour statistics add to the frozen encoder's pooled features for metal and gemstones?

A measurement for issue 4, behind the captioner's `colourFields`: 5-fold cross-validation over the
committed catalogue's training products, the same small head (Linear 256, LayerNorm, GELU, dropout 0.2,
AdamW 1e-3, 40 epochs) on (a) the encoder's pooled multi-scale vector, (b) that plus colour statistics,
(c) colour statistics alone; metal and stones share a head, category has one of its own on the same
inputs. Gemstone sets are decided as the drafts decide them: every stone above 0.5, else the likeliest
(`AttributeProbabilities.gemstoneSet`).

Colour statistics: the 309 values the captioner computes (`Functional.colourStatistics`; NumPy reference
scripts/reference/colour_statistics.py) from the 224-px view the encoder sees: the background's colour
(median of the border) and its chromaticity; over the pixels that differ from it (the piece), a 10×10
chromaticity histogram, a brightness histogram, RGB quantiles, chromaticity quantiles, mean, standard
deviation and mean relative to the background; and hue histograms (24 bins) of pixels above three
saturation and two value floors, plus a value histogram of unsaturated pixels.

Usage (the pooled features come from the trainer's cache of one plain view per training product):
  loupe train captioner --views 1 --epochs 1 --no-register --activate never --run /tmp/cf --out /tmp/cf.pt
(a cache with colour statistics appended is read as its first 2,064 columns, the encoder's part)
  .cache/pyref-torch/bin/python benchmarks/colour_features.py .cache/features/features-<newest>.pt
"""
import hashlib, json, os, subprocess, sys
import numpy as np, torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "reference"))
from colour_statistics import colour_statistics  # noqa: E402

root = "Fixtures/catalogue/"
rows = [json.loads(l) for l in open(root + "catalogue.jsonl")]
categories = ["ring", "necklace", "pendant", "earrings", "bracelet", "bangle", "brooch", "anklet"]
metals = ["yellow-gold", "white-gold", "rose-gold", "sterling-silver", "platinum", "copper", "brass", "two-tone"]
gems = ["none", "diamond", "cubic-zirconia", "ruby", "sapphire", "emerald", "amethyst", "topaz", "pearl", "turquoise", "onyx", "garnet"]


def split(external_id):  # DatasetSplit.of
    v = int.from_bytes(hashlib.sha256(external_id.encode()).digest()[:8], "big") % 100
    return "train" if v < 80 else ("validation" if v < 90 else "test")


def photo_statistics(path):
    """The statistics the captioner computes (scripts/reference/colour_statistics.py) on the encoder's view."""
    image = Image.open(root + path).convert("RGB").resize((224, 224), Image.BILINEAR)
    return colour_statistics(np.asarray(image, dtype=np.float64) / 255).astype(np.float32)


def main():
    pooled = torch.load(sys.argv[1])["pooled"].float()[:, :2064]
    url = subprocess.check_output(["scripts/postgres.sh", "url"], text=True).strip()
    train = subprocess.check_output(["psql", url, "-Atc", "SELECT external_id FROM products WHERE split = 'train' "
                                     "AND source = 'catalogue' ORDER BY id"], text=True).split()
    by_id = {r["external_id"]: r for r in rows}
    chosen = [by_id[e] for e in train if e in by_id]  # the committed catalogue's, in the trainer's order (by id)
    assert len(chosen) == pooled.shape[0], "the cache is not one plain view per training product"
    assert all(split(r["external_id"]) == "train" for r in chosen)
    colour = torch.tensor(np.stack([photo_statistics(r["images"][0]) for r in chosen]))
    metal = torch.tensor([metals.index(r["attributes"]["metal"]) for r in chosen])
    category = torch.tensor([categories.index(r["attributes"]["category"]) for r in chosen])
    stones = torch.tensor([[g in r["attributes"]["gemstones"] for g in gems] for r in chosen], dtype=torch.float32)
    z = lambda x: (x - x.mean(0)) / (x.std(0) + 1e-4)
    cnn, colour = z(pooled), z(colour)
    torch.manual_seed(0)
    folds = torch.randperm(len(chosen)) % 5
    for name, x in [("encoder", cnn), ("encoder + colour", torch.cat([cnn, colour], 1)), ("colour", colour)]:
        metal_acc, gem_acc, category_acc = [], [], []
        for f in range(5):
            train_rows, test_rows = (folds != f).nonzero().squeeze(1), folds == f
            # Metal and stones share a head, as in the captioner's colour trunk; category has its own.
            head = fit(x, train_rows, 8 + len(gems), f, lambda out, j: torch.nn.functional.cross_entropy(out[:, :8], metal[j]) +
                       torch.nn.functional.binary_cross_entropy_with_logits(out[:, 8:], stones[j], reduction="sum") / len(j))
            with torch.no_grad():
                out = head(x[test_rows])
            metal_acc.append((out[:, :8].argmax(1) == metal[test_rows]).float().mean().item())
            p = torch.sigmoid(out[:, 8:])
            listed = p >= 0.5
            top = p.argmax(1)
            listed[torch.arange(len(top)), top] |= ~listed.any(1)  # the likeliest when none reaches 0.5
            gem_acc.append((listed == (stones[test_rows] > 0.5)).all(1).float().mean().item())
            head = fit(x, train_rows, len(categories), f, lambda out, j: torch.nn.functional.cross_entropy(out, category[j]))
            with torch.no_grad():
                category_acc.append((head(x[test_rows]).argmax(1) == category[test_rows]).float().mean().item())
        print(f"{name:17s} metal {np.mean(metal_acc):.3f} ± {np.std(metal_acc):.3f}   gemstone set {np.mean(gem_acc):.3f} ± {np.std(gem_acc):.3f}"
              f"   category {np.mean(category_acc):.3f} ± {np.std(category_acc):.3f}")


def fit(x, train_rows, outputs, seed, loss_of):
    """The small head, trained 40 epochs on the rows given; returned in eval mode."""
    torch.manual_seed(seed)
    head = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.LayerNorm(256), torch.nn.GELU(),
                               torch.nn.Dropout(0.2), torch.nn.Linear(256, outputs))
    optimizer = torch.optim.AdamW(head.parameters(), 1e-3, weight_decay=0.01)
    for _ in range(40):
        head.train()
        order = train_rows[torch.randperm(len(train_rows))]
        for b in range(0, len(order), 32):
            j = order[b:b + 32]
            loss = loss_of(head(x[j]), j)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
    return head.eval()

if __name__ == "__main__":
    main()
