#!/usr/bin/env bash
# The seed DCGAN's training step (batch 128, 1x32x32, Adam 2e-4 beta1 0.5), Swift vs Python PyTorch 1.13.
# Usage: benchmarks/gan_step.sh [rounds] [steps]
exec "$(dirname "$0")/side_by_side.sh" gan-step benchmarks/gan_step.py \
    "DCGAN training step, batch 128, 1x32x32, Adam 2e-4 beta1 0.5" "$@"
