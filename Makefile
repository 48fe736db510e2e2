# InterLink for Swift. On a fresh Debian machine with the Swift toolchain:
#   make run    build and start the server on the mock provider (config/InterLinkConfig.yaml)
#   make test   install test dependencies, start dockerd + a one-node Slurm, run every test
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= config/InterLinkConfig.yaml

.PHONY: all build deps run test bench load clean docker-up docker-down slurm-up slurm-down image fuzz
FUZZ_SECONDS ?= 60

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	$(SWIFT) build -c release --product interlink
	$(SWIFT) build -c release --product interlink-probe
	@echo "built .build/release/interlink (and interlink-probe, the Docker probe helper it runs beside)"

run: build
	.build/release/interlink serve --config $(CONFIG)

test:
	@scripts/test.sh

bench: build
	@scripts/bench.sh

# The long versions of the load and slow-client tests (HTTPLoadTests), LOAD_SCALE times longer.
load:
	$(SWIFT) build --build-tests
	INTERLINK_TEST_BINARY=$(CURDIR)/.build/debug/interlink INTERLINK_LOAD_SCALE=$${LOAD_SCALE:-10} \
	  $(SWIFT) test --skip-build --filter HTTPLoadTests

# Container image interlink:<version> (base made locally with debootstrap); prints its name.
image:
	@scripts/install-deps.sh image
	@scripts/image.sh

# libFuzzer targets (Fuzz/) for FUZZ_SECONDS each, then a long schemathesis run
# against the live server: `make fuzz FUZZ_SECONDS=600`.
fuzz:
	@scripts/install-deps.sh test
	$(SWIFT) build --product interlink
	@scripts/fuzz.sh $(FUZZ_SECONDS)
	@SCHEMATHESIS_PHASES=examples,coverage,fuzzing,stateful scripts/schemathesis.sh 1000 $$(( $(FUZZ_SECONDS) * 3 ))

docker-up:
	@scripts/dockerd.sh start
docker-down:
	@scripts/dockerd.sh stop
slurm-up:
	@scripts/slurm.sh start
slurm-down:
	@scripts/slurm.sh stop

clean:
	rm -rf .build .interlink
