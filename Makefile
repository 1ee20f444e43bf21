# slipstream — the two set-up commands are `make demo` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build kubectl-plugin test vet fmt-check fmt tidy bench demo clean e2e e2e-peers screenshots

all: build

## build: the one binary, bin/slipstream
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/slipstream ./cmd/slipstream

## kubectl-plugin: bin/kubectl-slipstream, the same binary as a kubectl plugin
## (put it on your PATH: kubectl slipstream status, kubectl slipstream pause …)
kubectl-plugin:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/kubectl-slipstream ./cmd/slipstream

## test: vet, gofmt check, and every test with the race detector
test: vet fmt-check
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; echo "run: make fmt"; exit 1; fi

## e2e-peers: build the real peers e2e runs (first run only; cached in .cache/e2e or $E2E_CACHE)
e2e-peers:
	$(GO) run ./e2e/peers/build

## e2e: the end-to-end tier against real Kubernetes, Knative Serving and peers
## (one scenario: make e2e RUN=TestName)
E2E_TIMEOUT ?= 40m
e2e: e2e-peers
	$(GO) test -tags e2e -count=1 -p 1 -timeout $(E2E_TIMEOUT) $(if $(RUN),-run '$(RUN)') -v ./e2e/...

## bench: every speed claim beside its baseline; rewrites docs/benchmarks.md (the first run builds P2's control plane into the e2e cache)
bench:
	$(GO) run ./bench/run -doc docs/benchmarks.md

## screenshots: the README's picture of the web view, from a real Chromium
## (Debian's chromium) during slipstream dev: docs/screenshots/dashboard.png
screenshots:
	SLIPSTREAM_SCREENSHOT=docs/screenshots/dashboard.png $(GO) test -tags e2e -count=1 -run 'TestWebViewInABrowser' -v ./e2e

## fmt: format every Go file
fmt:
	gofmt -w $$(git ls-files '*.go')

## tidy: tidy go.mod and go.sum
tidy:
	$(GO) mod tidy

## demo: the whole pipeline on one machine, as a story (under a minute)
demo:
	@echo "make demo: building slipstream (the first build on a machine compiles its dependencies: minutes; later ones: seconds)…"
	@$(GO) build -ldflags "$(LDFLAGS)" -o bin/slipstream ./cmd/slipstream
	bin/slipstream demo

clean:
	rm -rf bin
