#!/usr/bin/env bash
# One captioner training step (decoder + attribute heads on cached 7x7x1280 features, batch 32, 72 tokens,
# AdamW, label smoothing, clipping), Swift vs Python PyTorch 1.13. Usage: benchmarks/captioner_step.sh [rounds] [steps]
exec "$(dirname "$0")/side_by_side.sh" captioner-step benchmarks/captioner_step.py \
    "captioner training step on cached features, batch 32, 72 tokens, AdamW" "$@"
