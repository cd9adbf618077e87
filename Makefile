# sbx build and test entry points. `make test` is what CI runs (.ci/run) and what the
# README tells a new user to type: it installs missing Debian test dependencies, then runs
# gofmt, go vet, staticcheck and the whole test suite.
GO ?= go
STATICCHECK_VERSION := v0.8.2

.PHONY: build test deps check unit bench packages

build:
	CGO_ENABLED=0 $(GO) build -o sbx ./cmd/sbx

deps:
	./.ci/deps

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) mod tidy -diff

# -timeout: go test's default of 10 minutes per package is what cmd/sbx takes on a loaded
# machine; a hang is caught per command (sbxtest.Timeout) long before 25 minutes.
unit:
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/sbx
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 25m ./...
	# The default platform (auto) is trap where seccomp can trap; the differential suite
	# runs on ptrace too.
	SBX_TEST_PLATFORM=ptrace CGO_ENABLED=0 $(GO) test -count=1 -timeout 25m -run 'TestDifferential|TestGoProgram' ./kernel/syscalls/
	$(GO) test -count=1 -race -skip 'TestConfinedGofer|TestAsUnprivilegedUser' ./profiles/... ./kernel/mm/... ./kernel/vfs/... ./gofer/... ./launcher/control/... ./tui/...
	$(GO) test -count=1 -timeout 25m -run 'NONE' -bench . -benchtime=1x ./...

test: deps check unit

bench:
	$(GO) test -run NONE -bench . ./...

# .deb, .rpm and Arch packages into $(DIST) (packaging/build; nfpm as a library).
DIST ?= dist
packages:
	$(GO) run ./packaging/build -out $(DIST)
