"""Can the look-alike labels be told apart in the committed catalogue's photos at all?

A measurement for issue 4's metal and gemstone targets. Two groups of labels differ in the photos by
little: sterling silver, white gold and platinum (39 % of the catalogue) only in reflectance (mean RGB
0.94, 0.77, 0.63) under light, backgrounds and reflections that every scene varies; diamond and cubic
zirconia (29 %) only in refractive index (2.42 against 2.15). For each, a small classifier with 5-fold
cross-validation over every product of the group (all splits, one photo each) reads:
  (a) the 309 colour statistics the captioner's heads read (scripts/reference/colour_statistics.py on
      the encoder's 224-px view);
  (b) brightness quantiles of the piece's pixels at full resolution (0.5 … 1.0), alone and over the
      background's brightness, the share of clipped pixels, saturation and blue-minus-red, plus the
      product's *true* finish (polish reflects the softboxes, matte does not), which no model is given;
  (c) both.
Each has a control, the same classifier and features where the colours differ: the metal's colour family
(yellow: yellow gold, brass; white; rose: rose gold, copper; two-tone) over every product, and diamond
against ruby, sapphire and emerald. Each is scored by out-of-fold accuracy and by balanced accuracy (the mean of the
classes' recalls, which is 1 / classes for a classifier that cannot tell them apart, whatever the class
shares); the loss weighs the classes by the inverse of their counts. Reference row: always answering the
commonest class.
Last, the accuracy of the whole field if every other label were right and the look-alikes were
guessed: the commonest of the group, or the commonest for the same other labels in the other folds.

Usage: .cache/pyref-torch/bin/python benchmarks/lookalikes.py     (about 1 minute)
"""
import collections, json, os, sys
import numpy as np, torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "reference"))
from colour_statistics import colour_statistics  # noqa: E402

root = "Fixtures/catalogue/"
white = ["sterling-silver", "white-gold", "platinum"]
yellow, rose = ["yellow-gold", "brass"], ["rose-gold", "copper"]
family = {"yellow-gold": 0, "brass": 0, "sterling-silver": 1, "white-gold": 1, "platinum": 1, "rose-gold": 2, "copper": 2, "two-tone": 3}
finishes = ["polished", "hammered", "brushed", "matte"]


def highlights(image, finish):
    im = image.astype(np.float32) / 255
    border = np.concatenate([im[:4].reshape(-1, 3), im[-4:].reshape(-1, 3), im[:, :4].reshape(-1, 3), im[:, -4:].reshape(-1, 3)])
    background = np.median(border, 0)
    piece = im[np.abs(im - background).max(-1) > 0.08]
    if len(piece) < 50:
        piece = im.reshape(-1, 3)
    brightness = piece.mean(1)
    q = np.quantile(brightness, [0.5, 0.75, 0.9, 0.97, 0.99, 1.0])
    saturation = piece.max(1) - piece.min(1)
    blue_red = piece[:, 2] - piece[:, 0]
    return np.concatenate([q, q / max(background.mean(), 1e-3), [background.mean(), (brightness > 0.98).mean(),
                           np.median(saturation), blue_red.mean(), np.quantile(blue_red, 0.9)],
                           [finish == f for f in finishes]]).astype(np.float32)


def cross_validate(x, y, classes, seed=0):
    """Out-of-fold accuracy (mean ± std over the folds) and balanced accuracy (mean recall over the
    classes, of all folds' predictions; chance is 1 / classes). The loss weighs each class by the inverse
    of its count, so a minority class is not given up for the commonest."""
    x = (x - x.mean(0)) / (x.std(0) + 1e-4)
    folds = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed)) % 5
    weight = len(y) / (classes * torch.bincount(y, minlength=classes).float())
    accuracy, predicted = [], torch.empty_like(y)
    for f in range(5):
        train, test = folds != f, folds == f
        torch.manual_seed(f)
        head = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 128), torch.nn.LayerNorm(128), torch.nn.GELU(),
                                   torch.nn.Dropout(0.2), torch.nn.Linear(128, classes))
        optimizer = torch.optim.AdamW(head.parameters(), 1e-3, weight_decay=0.01)
        xt, yt = x[train], y[train]
        for _ in range(60):
            head.train()
            order = torch.randperm(len(yt))
            for b in range(0, len(order), 32):
                j = order[b:b + 32]
                loss = torch.nn.functional.cross_entropy(head(xt[j]), yt[j], weight=weight)
                optimizer.zero_grad(); loss.backward(); optimizer.step()
        with torch.no_grad():
            predicted[test] = head.eval()(x[test]).argmax(1)
        accuracy.append((predicted[test] == y[test]).float().mean().item())
    balanced = np.mean([(predicted[y == c] == c).float().mean().item() for c in range(classes)])
    return np.mean(accuracy), np.std(accuracy), balanced


def among(values, names):
    """Which values are one of `names`, and each one's index in `names` (-1 for the others)."""
    return torch.tensor([v in names for v in values]), torch.tensor([names.index(v) if v in names else -1 for v in values])


def bound(rows, confusable, key):
    """Accuracy over all rows when every label outside `confusable` is right and the confusable ones are
    guessed: the commonest confusable label of rows with the same `key` in the other folds, else overall."""
    folds = np.random.RandomState(0).permutation(len(rows)) % 5
    right = 0
    for f in range(5):
        seen, overall = collections.defaultdict(collections.Counter), collections.Counter()
        for r, fold in zip(rows, folds):
            if fold != f and confusable(r) is not None:
                seen[key(r)][confusable(r)] += 1
                overall[confusable(r)] += 1
        for r, fold in zip(rows, folds):
            if fold == f and confusable(r) is not None:
                right += (seen.get(key(r)) or overall).most_common(1)[0][0] == confusable(r)
    count = sum(confusable(r) is not None for r in rows)
    return right / count, (len(rows) - count + right) / len(rows)


def main():
    rows = [json.loads(l) for l in open(root + "catalogue.jsonl")]
    stats, marks = [], []
    for r in rows:
        image = Image.open(root + r["images"][0]).convert("RGB")
        view = np.asarray(image.resize((224, 224), Image.BILINEAR), dtype=np.float64) / 255
        stats.append(colour_statistics(view).astype(np.float32))
        marks.append(highlights(np.asarray(image), r["attributes"]["finish"]))
    stats, marks = torch.tensor(np.stack(stats)), torch.tensor(np.stack(marks))
    metal = [r["attributes"]["metal"] for r in rows]
    sole_stone = [s[0] if len(s) == 1 else None for s in (r["attributes"]["gemstones"] for r in rows)]
    tasks = [
        ("white metal (silver / white gold / platinum)", *among(metal, white)),
        ("metal colour family (control)", torch.ones(len(rows), dtype=torch.bool), torch.tensor([family[m] for m in metal])),
        ("yellow gold or brass", *among(metal, yellow)),
        ("rose gold or copper", *among(metal, rose)),
        ("diamond or cubic zirconia (sets of one)", *among(sole_stone, ["diamond", "cubic-zirconia"])),
        ("diamond, ruby, sapphire or emerald (sets of one; control)", *among(sole_stone, ["diamond", "ruby", "sapphire", "emerald"])),
    ]
    for name, keep, labels in tasks:
        y = labels[keep]
        counts = torch.bincount(y)
        print(f"{name}: {len(y)} products, classes {counts.tolist()}")
        print(f"  {'':40s} accuracy        balanced accuracy")
        print(f"  {'commonest class':40s} {counts.max().item() / len(y):.3f}           {1 / len(counts):.3f}")
        for inputs, x in [("colour statistics (309)", stats), ("highlights at full size + true finish", marks),
                          ("both", torch.cat([stats, marks], 1))]:
            mean, std, balanced = cross_validate(x[keep], y, len(counts))
            print(f"  {inputs:40s} {mean:.3f} ± {std:.3f}   {balanced:.3f}")
    others = lambda r: (r["design"], r["attributes"]["category"], r["attributes"]["style"], r["attributes"]["finish"])
    white_metal = lambda r: r["attributes"]["metal"] if r["attributes"]["metal"] in white else None
    clear_stone = lambda r: r["attributes"]["gemstones"][0] if r["attributes"]["gemstones"] in (["diamond"], ["cubic-zirconia"]) else None
    for name, field, confusable, key in [
            ("white metal", "metal", white_metal, lambda r: others(r) + tuple(r["attributes"]["gemstones"])),
            ("diamond or cubic zirconia", "gemstone set", clear_stone, lambda r: others(r) + (r["attributes"]["metal"],))]:
        for how, k in [("the commonest", lambda r: ()), ("guessed from the other labels", key)]:
            guessed, overall = bound(rows, confusable, k)
            print(f"{name}, {how}: {guessed:.3f}; {field} accuracy with everything else right: {overall:.3f}")

if __name__ == "__main__":
    main()
