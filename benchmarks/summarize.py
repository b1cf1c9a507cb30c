"""Reads the JSON lines of benchmarks/train_step.sh and prints medians side by side with the ratio."""
import json
import statistics
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]


def median(impl, key):
    return statistics.median(r[key] for r in rows if r["impl"] == impl)


rounds = sum(1 for r in rows if r["impl"] == "swift")
print()
print(f"small CNN training step, batch 32, 3x96x96, Adam, {rows[0]['threads']} threads, median of {rounds} rounds")
print(f"{'':10}{'images/s':>12}{'images/cpu-s':>15}")
for impl in ("swift", "python"):
    print(f"{impl:10}{median(impl, 'images_per_s'):12.1f}{median(impl, 'images_per_cpu_s'):15.1f}")
wall = median("swift", "images_per_s") / median("python", "images_per_s")
cpu = median("swift", "images_per_cpu_s") / median("python", "images_per_cpu_s")
print(f"{'ratio':10}{wall:12.3f}{cpu:15.3f}   swift / python (target >= 1.0)")
