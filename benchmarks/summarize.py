"""Reads the JSON lines of a benchmarks/*.sh run and prints medians side by side with the ratio.
Usage: ... | summarize.py "what was measured" """
import json
import statistics
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]
title = sys.argv[1] if len(sys.argv) > 1 else "small CNN training step, batch 32, 3x96x96, Adam"


def median(impl, key):
    return statistics.median(r[key] for r in rows if r["impl"] == impl)


cpu = all("images_per_cpu_s" in r for r in rows)
rounds = sum(1 for r in rows if r["impl"] == "swift")
print()
print(f"{title}, {rows[0]['threads']} threads, median of {rounds} rounds")
print(f"{'':10}{'images/s':>12}" + (f"{'images/cpu-s':>15}" if cpu else ""))
for impl in ("swift", "python"):
    print(f"{impl:10}{median(impl, 'images_per_s'):12.1f}" + (f"{median(impl, 'images_per_cpu_s'):15.1f}" if cpu else ""))
wall = median("swift", "images_per_s") / median("python", "images_per_s")
line = f"{'ratio':10}{wall:12.3f}"
if cpu:
    line += f"{median('swift', 'images_per_cpu_s') / median('python', 'images_per_cpu_s'):15.3f}"
print(line + "   swift / python (target >= 1.0)")
