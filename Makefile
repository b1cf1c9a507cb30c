# Loupe: the two commands are `make run` and `make test`. Each installs what is missing first.
SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift
# Debian's libtorch starts with one thread; Loupe sets it explicitly (default: every core).
LOUPE_THREADS ?= $(shell nproc)
export LOUPE_THREADS

.PHONY: run test deps build release bench images clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product loupe

# Until the service exists (issue 5), `run` builds and proves the engine works on this machine.
run: release
	.build/release/loupe selfcheck

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest

# Swift vs Python PyTorch 1.13, the same CNN training step, side by side (see benchmarks/README.md).
bench: release
	benchmarks/train_step.sh

# Regenerates the committed test images and their expected pixels with PIL.
images: deps
	cd Tests/ImagingTests/Images && /usr/bin/python3 make_images.py

clean:
	rm -rf .build
