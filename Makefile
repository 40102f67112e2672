# edgeconf: build, pinned tools, tests with a coverage gate, lint, benchmarks, fuzzing.
# `make help` lists the targets; docs/development.md explains them.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO ?= go
BIN := $(CURDIR)/bin
TOOLS := $(CURDIR)/tools

# Tests and scripts find the pinned tools first: Go tools in bin/, npm tools
# (wrangler, workerd) in tools/node_modules/.bin/.
export PATH := $(CURDIR)/bin:$(CURDIR)/tools/node_modules/.bin:$(PATH)

COVERPROFILE ?= coverage.out
COVER_MIN ?= 85
FUZZTIME ?= 60s

# ---------------------------------------------------------------------------
# Pinned tools. `make tools` installs whatever is missing or at another
# version, and does nothing (quietly) when everything is in place.

# Go tools, as import/path/of/cmd@version; each is installed into bin/ and
# named after the last element of its path (before a /vN major version, as
# go install names it).
#   staticcheck 2026.2.2 (v0.8.2) is built with and understands go1.26.
#   benchstat has no releases; this is golang.org/x/perf of 2026-09-08.
#   versitygw is the S3 server the R2 tests and bench/r2.sh run (docs/architecture.md).
#   vegeta is the HTTP load generator of bench/serve.sh and bench/dev.sh.
STATICCHECK_VERSION := v0.8.2
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
GO_TOOLS := \
	honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) \
	golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION) \
	github.com/versity/versitygw/cmd/versitygw@v1.8.0 \
	github.com/tsenart/vegeta/v12@v12.13.0

# Debian packages the tests need, as command:package pairs. They are installed
# only when asked — APT_INSTALL=1, or CI=true (the CI run asks for every
# tool) — and make runs as root; otherwise make prints the apt-get command
# and the tests that need them skip (and fail under CI=true).
APT_INSTALL ?= $(if $(filter true,$(CI)),1,)
APT_TOOLS := squid:squid tinyproxy:tinyproxy htpasswd:apache2-utils chromium:chromium

# Debian packages only the benchmarks need (make bench).
BENCH_APT_TOOLS := hyperfine:hyperfine

# npm tools are pinned in tools/package.json and tools/package-lock.json;
# npm writes node_modules/.package-lock.json on every install, so it is
# older than the lock file exactly when node_modules is stale.
NPM_STAMP := $(TOOLS)/node_modules/.package-lock.json

# apt-install installs, when asked (APT_INSTALL=1) and running as root, the
# packages of the commands missing from $(1), a list of command:package
# pairs; otherwise it prints the command to run. apt-get's output is shown
# only when it fails.
define apt-install
	missing=""; \
	for pair in $(1); do \
		command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$(APT_INSTALL)" = 1 ] && [ "$$(id -u)" = 0 ]; then \
			echo "tools: apt-get install -y$$missing"; \
			log="$$(mktemp)"; \
			if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; } >"$$log" 2>&1; then \
				cat "$$log" >&2; rm -f "$$log"; exit 1; \
			fi; \
			rm -f "$$log"; \
		else \
			echo "tools: missing$$missing; install them as root with: apt-get install -y$$missing (or make tools APT_INSTALL=1)" >&2; \
		fi; \
	fi
endef

.PHONY: build tools tools-go tools-npm tools-apt tools-bench test test-cloudflare lint bench fuzz clean clean-tools help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 16

# The shipped binary: statically linked without cgo (edgeconf needs none:
# its SQLite is pure Go, and Go's own DNS resolver is used), so no dynamic
# loader or libc runs at start-up; no file-system paths (-trimpath), no
# symbol table or DWARF (-s -w); stack traces keep their function names.
# -buildvcs=auto stamps the git commit (edgeconf version) even where
# GOFLAGS says -buildvcs=false, and builds from a tarball all the same.
# bench/validate.sh measures this build (issue 12: at most 30 MB).
BUILD_FLAGS := -trimpath -buildvcs=auto -ldflags='-s -w'

build: ## build bin/edgeconf (release: CGO_ENABLED=0, -trimpath -ldflags='-s -w')
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o bin/edgeconf ./cmd/edgeconf

tools: tools-go tools-npm tools-apt ## install the pinned tools the tests need (idempotent)

tools-go: ## Go tools into bin/ (staticcheck, benchstat, versitygw, vegeta)
	@for spec in $(GO_TOOLS); do \
		pkg="$${spec%@*}"; ver="$${spec##*@}"; name="$${pkg##*/}"; [[ ! $$name =~ ^v[0-9]+$$ ]] || { name="$${pkg%/*}"; name="$${name##*/}"; }; exe="$(BIN)/$$name"; \
		if $(GO) version -m "$$exe" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+[^[:space:]]+[[:space:]]+$$ver([[:space:]]|$$)"; then \
			continue; \
		fi; \
		echo "tools: go install $$spec"; \
		GOBIN="$(BIN)" $(GO) install "$$spec"; \
	done

tools-npm: $(NPM_STAMP) ## npm tools into tools/node_modules (wrangler, workerd)

$(NPM_STAMP): $(TOOLS)/package.json $(TOOLS)/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "tools: npm is missing: install Node.js >= 20.3 with npm, then run make tools (wrangler tests skip until then)" >&2; \
		exit 0; \
	fi; \
	echo "tools: npm ci in tools/"; \
	cd $(TOOLS) && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error; \
	touch $@

tools-apt: ## Debian packages the tests need (as root)
	@$(call apt-install,$(APT_TOOLS))

tools-bench: ## Debian packages the benchmarks need (hyperfine, as root)
	@$(call apt-install,$(BENCH_APT_TOOLS))

# TestInitTrace only prints (package-init time of edgeconf --help), and
# go test hides a passing test's log, so it runs on its own with -v.
test: tools ## go test -race with coverage, then the coverage gate; then the init trace of edgeconf --help
	@rm -f $(COVERPROFILE); \
	status=0; \
	$(GO) test -race -count=1 -covermode=atomic -coverprofile=$(COVERPROFILE) -skip '^TestInitTrace$$' ./... || status=$$?; \
	if [ -s $(COVERPROFILE) ]; then \
		$(GO) build -o $(BIN)/covergate ./internal/tools/covergate; \
		$(BIN)/covergate -profile $(COVERPROFILE) -min $(COVER_MIN) \
			-exclude 'cmd/...,examples/...,bench/...,kvstore/storetest,objstore/objtest,d1/d1test' ./... || status=1; \
	else \
		echo "coverage gate: go test wrote no $(COVERPROFILE)" >&2; status=1; \
	fi; \
	$(GO) test -count=1 -run '^TestInitTrace$$' -v ./cmd/edgeconf || status=$$?; \
	exit $$status

test-cloudflare: ## the KV and object-store suites and a Workers round trip against a real account (never run by CI; see docs/cloudflare.md)
	$(GO) test -tags cloudflare -count=1 -v -run '^TestReal_' ./cloudflare/ ./r2/

lint: tools-go ## go vet and staticcheck
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

bench: tools tools-bench ## run every bench/*.sh (bench/validate.sh: edgeconf validate vs wrangler)
	@status=0; \
	for script in bench/*.sh; do \
		echo "== $$script"; \
		bash "$$script" || { echo "bench: $$script failed" >&2; status=1; }; \
	done; \
	exit $$status

fuzz: ## fuzz config.Parse, the D1 script splitter and dump import, FUZZTIME each (default 60s)
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./config/
	$(GO) test -run='^$$' -fuzz='^FuzzSplit$$' -fuzztime=$(FUZZTIME) ./d1/
	$(GO) test -run='^$$' -fuzz='^FuzzImport$$' -fuzztime=$(FUZZTIME) ./d1/dump/

clean: ## remove build, test and benchmark outputs
	rm -rf bin/edgeconf $(COVERPROFILE) bench/out dist

clean-tools: ## remove the installed tools (bin/, tools/node_modules)
	rm -rf bin tools/node_modules
