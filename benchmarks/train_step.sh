#!/usr/bin/env bash
# One small-CNN training step (batch 32, 3x96x96, Adam), Swift vs Python PyTorch 1.13.
# Usage: benchmarks/train_step.sh [rounds] [steps]
exec "$(dirname "$0")/side_by_side.sh" train-step benchmarks/train_step.py \
    "small CNN training step, batch 32, 3x96x96, Adam" "$@"
