# drainpipe: zero-downtime maintenance of EC2 instances behind ALBs.
# `make help` lists the targets. Every target installs what it needs by itself.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
BUILD       := build
LAMBDAS     := $(notdir $(wildcard lambdas/*))
TOOLS       := .tools
NODE_BIN    := $(TOOLS)/node_modules/.bin
TOOLS_STAMP := $(TOOLS)/node_modules/.installed
STATICCHECK_VERSION := v0.8.2
FUZZTIME    ?= 10s
# make test fuzzes each target for a count of inputs, not a time: a timed -fuzztime can end
# with a spurious "context deadline exceeded" under load (a race in Go 1.26's fuzzing
# coordinator, golang/go#75804, fixed in Go 1.27).
FUZZEXECS   ?= 50000x
MAX_BOOTSTRAP_BYTES := 10000000
# How every Lambda is built (internal/coldstart builds the same way; a test compares):
# no RPC mode, trimmed paths, no symbol table or debug information, and no inlining,
# which keeps every bootstrap under MAX_BOOTSTRAP_BYTES (README, Measured, has the cost).
LAMBDA_BUILD_FLAGS := -tags lambda.norpc -trimpath -gcflags=all=-l -ldflags "-s -w"
CDK         := timeout -s KILL 900 $(NODE_BIN)/cdk
CDK_FLAGS   ?=

# Node 22 from .tools first on PATH (jsii and the CDK CLI run on it); no telemetry, no
# notices: synth runs offline.
export PATH := $(CURDIR)/$(NODE_BIN):$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(TOOLS_STAMP): $(TOOLS)/package.json $(TOOLS)/package-lock.json
	cd $(TOOLS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: tools
tools: $(TOOLS_STAMP) ## Install the Node tools (Node 22, aws-local-stepfunctions, asl-validator) into .tools
	$(GO) mod download

.PHONY: build
build: ## Cross-compile every Lambda for provided.al2023 on arm64 into build/lambdas/<name>/bootstrap
	@for fn in $(LAMBDAS); do \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_BUILD_FLAGS) \
	    -o $(BUILD)/lambdas/$$fn/bootstrap ./lambdas/$$fn; \
	done
	@printf '%-22s %10s\n' function 'bootstrap bytes'
	@for fn in $(LAMBDAS); do printf '%-22s %10s\n' $$fn $$(stat -c %s $(BUILD)/lambdas/$$fn/bootstrap); done
	@# The size budget of a bootstrap (make bench prints the zipped sizes and cold starts).
	@for fn in $(LAMBDAS); do size=$$(stat -c %s $(BUILD)/lambdas/$$fn/bootstrap); \
	  if [ $$size -gt $(MAX_BOOTSTRAP_BYTES) ]; then echo "$$fn: $$size bytes, over $(MAX_BOOTSTRAP_BYTES)"; exit 1; fi; done

.PHONY: test
test: tools ## Run every test: unit, contract, ASL, lab end-to-end and wire tests, asl-validator, a short fuzz (50,000 inputs a target: the validation, and its agreement with the schemas)
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(NODE_BIN)/asl-validator $(addprefix --json-path ,$(wildcard statemachine/*.asl.json))
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeInput$$' -fuzztime $(FUZZEXECS) ./internal/workflow
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeInput$$' -fuzztime $(FUZZEXECS) ./internal/rollout
	$(GO) test -run '^$$' -fuzz '^FuzzInputsAgree$$' -fuzztime $(FUZZEXECS) ./schema

.PHONY: synth
synth: tools build ## Write the CloudFormation templates to cdk.out (offline, no AWS credentials needed)
	$(CDK) synth --no-notices --quiet $(CDK_FLAGS)
	@ls cdk.out/*.template.json

.PHONY: bootstrap
bootstrap: tools build ## Prepare an account and region for CDK deployments, once each: cdk bootstrap through .tools (CDK_FLAGS passed, e.g. aws://ACCOUNT/REGION)
	$(CDK) bootstrap --no-notices $(CDK_FLAGS)

.PHONY: deploy
deploy: tools build ## Build the Lambdas and deploy the Drainpipe stack (CDK_FLAGS="-c demo=true DrainpipeDemo" for the demo)
	$(CDK) deploy --no-notices $(if $(CDK_FLAGS),$(CDK_FLAGS),Drainpipe)

.PHONY: demo
demo: ## The post's scenario on the local lab: naive reboot vs drainpipe, with a chart (DEMO_FLAGS="-instances 5" ...)
	@# Only what the demo needs, the Node tools and the lab's Go packages (not the CDK's),
	@# the two at once; each step says what it does, and the end says how long it all took.
	@# The lab's copy of the EC2 SDK package is compiled without optimisation (-N -l): it
	@# is most of a cold compile (README, Measured), and the lab does not need it fast.
	@start=$$(date +%s%N); npm_pid=; \
	if ! $(MAKE) --no-print-directory -q $(TOOLS_STAMP); then \
	  echo "demo: installing the lab's Node tools into $(TOOLS) (Node 22, the Step Functions engine, DynamoDB), in the background"; \
	  $(MAKE) --no-print-directory -s $(TOOLS_STAMP) > $(TOOLS)/install.log 2>&1 & npm_pid=$$!; \
	  trap 'kill $$npm_pid 2>/dev/null' EXIT; \
	fi; \
	echo "demo: compiling the lab (a first run downloads the Go modules it needs, a line each, and takes minutes)"; \
	$(GO) build -gcflags='github.com/aws/aws-sdk-go-v2/service/ec2=-N -l' -o $(BUILD)/drainpipe-lab ./cmd/drainpipe-lab; \
	if [ -n "$$npm_pid" ] && ! wait $$npm_pid; then cat $(TOOLS)/install.log; exit 1; fi; \
	echo "demo: ready after $$(( ($$(date +%s%N) - start) / 1000000000 )) s; running"; \
	rc=0; $(BUILD)/drainpipe-lab $(DEMO_FLAGS) || rc=$$?; \
	echo "demo: $$(( ($$(date +%s%N) - start) / 1000000000 )) s in all, set-up included"; \
	exit $$rc

.PHONY: chaos
chaos: tools ## Seeded chaos: fleet rollouts under random faults, invariants checked after each (SEEDS=n runs n from BASE, default 1; SEED=s replays one)
	CHAOS_SEEDS=$(or $(SEEDS),20) CHAOS_BASE=$(or $(BASE),1) CHAOS_SEED=$(SEED) \
	  $(GO) test -count=1 -run '^TestChaos$$' -v -timeout 120m ./lab | grep -E '^\s+(chaos_test.go:[0-9]+: chaos:|seed )|^(---|ok|FAIL)|VIOLATION|broke an invariant|^\s{10}'

.PHONY: bench
bench: tools ## Benchmarks that print numbers: bootstrap sizes and cold starts, planning (100 to 100,000 instances), reservations per second, a rollout's Step Functions quotas (100 to 10,000 instances; about 13 minutes)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/coldstart
	$(GO) test -run '^$$' -bench . -benchtime 5x ./internal/waveplan
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./internal/capacity
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./lab

.PHONY: fuzz
fuzz: ## Fuzz the input validation for longer (FUZZTIME=5m)
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeInput$$' -fuzztime $(FUZZTIME) ./internal/workflow
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeInput$$' -fuzztime $(FUZZTIME) ./internal/rollout
	$(GO) test -run '^$$' -fuzz '^FuzzInputsAgree$$' -fuzztime $(FUZZTIME) ./schema

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

.PHONY: clean
clean: ## Remove build output
	rm -rf $(BUILD) cdk.out lab-output
