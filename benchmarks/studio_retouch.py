"""Does a draft survive the retouching a real studio photo gets?

Real product photos (DATA.md) are 800–2000 px JPEGs whose background a retoucher has set to white: the
white point is taken from the background, which also removes a colour cast. The renders are 256 px with
the light's own brightness and warmth. This takes the committed catalogue's validation and test products
shot on a light, neutral background (border median ≥ 140 in every channel and within 25 of grey), makes
the retoucher's version of each photo (every channel scaled so the background's median becomes 250,
clipped; 1024 px, Lanczos; JPEG quality 92), drafts both with `loupe describe --json` and compares
category, metal and metal-colour-family accuracy.

Usage: .cache/pyref-torch/bin/python benchmarks/studio_retouch.py [--model FILE] [--loupe .build/release/loupe]
"""
import argparse, hashlib, json, os, subprocess, tempfile
import numpy as np
from PIL import Image

root = "Fixtures/catalogue/"
family = {"yellow-gold": "yellow", "brass": "yellow", "sterling-silver": "white", "white-gold": "white", "platinum": "white",
          "rose-gold": "rose", "copper": "rose", "two-tone": "two-tone"}


def split(external_id):  # DatasetSplit.of
    v = int.from_bytes(hashlib.sha256(external_id.encode()).digest()[:8], "big") % 100
    return "train" if v < 80 else ("validation" if v < 90 else "test")


def describe(loupe, model, paths):
    command = [loupe, "describe", "--json"] + (["--model", model] if model else []) + paths
    lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()
    assert len(lines) == len(paths), "one draft per photo"
    return [json.loads(line) for line in lines]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--loupe", default=".build/release/loupe")
    args = parser.parse_args()
    rows = [json.loads(l) for l in open(root + "catalogue.jsonl")]
    chosen, originals, retouched = [], [], []
    with tempfile.TemporaryDirectory() as work:
        for r in rows:
            if split(r["external_id"]) == "train":
                continue
            image = np.asarray(Image.open(root + r["images"][0]).convert("RGB")).astype(np.float32)
            border = np.concatenate([image[:4].reshape(-1, 3), image[-4:].reshape(-1, 3),
                                     image[:, :4].reshape(-1, 3), image[:, -4:].reshape(-1, 3)])
            background = np.median(border, 0)
            if background.min() < 140 or background.max() - background.min() > 25:
                continue
            out = Image.fromarray(np.clip(image * (250.0 / background), 0, 255).astype(np.uint8)).resize((1024, 1024), Image.LANCZOS)
            path = os.path.join(work, r["external_id"] + ".jpg")
            out.save(path, quality=92)
            chosen.append(r)
            originals.append(root + r["images"][0])
            retouched.append(path)
        print(f"{len(chosen)} validation and test products on a light, neutral background")
        print("| photos | category | metal | metal colour family |\n| --- | --- | --- | --- |")
        for name, paths in [("rendered, 256 px", originals), ("retouched: white point from the background, 1024 px JPEG", retouched)]:
            drafts = describe(args.loupe, args.model, paths)
            truth = [r["attributes"] for r in chosen]
            category = sum(d["category"]["value"] == t["category"] for d, t in zip(drafts, truth))
            metal = sum(d["attributes"]["metal"]["value"] == t["metal"] for d, t in zip(drafts, truth))
            colour = sum(family[d["attributes"]["metal"]["value"]] == family[t["metal"]] for d, t in zip(drafts, truth))
            n = len(drafts)
            print(f"| {name} | {category / n:.3f} ({category}) | {metal / n:.3f} ({metal}) | {colour / n:.3f} ({colour}) |")


if __name__ == "__main__":
    main()
