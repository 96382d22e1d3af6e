# make run | stop | build | check | bench   (see README.md)
SHELL := /bin/bash
.PHONY: run stop build check bench bench-floor bench-gossip bench-membership bench-s3 faults deps typecheck lint fmt test-unit test-cluster clean

# npm ci installs exactly the lockfile (it lists every platform's optional builds of biome and
# msgpackr, which npm ci insists on). Should npm ci still refuse it as incomplete (another npm or
# registry), npm install installs the same pinned versions from it.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund 2>npm-ci.err || { grep -m 2 -E "Missing|error code" npm-ci.err; echo "npm ci refused the lockfile (above): installing its pinned versions with npm install"; npm install --no-audit --no-fund; }
	@rm -f npm-ci.err
	@touch $@

deps: node_modules/.package-lock.json

build: deps
	npx tsc -p tsconfig.json

run: build
	./start_n_servers.sh 4

stop:
	./stop_servers.sh

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

# The linter, and a check that every file is formatted as `make fmt` leaves it.
lint: deps
	npx biome lint .
	npx biome format .

fmt: deps
	npx biome format --write .

test-unit: deps
	npx ava 'test/unit/**/*.test.ts'

test-cluster: build
	npx ava --serial 'test/cluster/**/*.test.ts'

check: typecheck lint build test-unit test-cluster

# 4 KiB PUTs: the bare baseline, the durable floor (its backends store in LMDB) and the cluster, in alternating rounds.
bench-floor: build
	node --import=tsx bench/durable-floor.ts $(BENCH_ARGS)

bench-gossip: build
	node --import=tsx bench/gossip-scale.ts $(BENCH_ARGS)

# A 5th node joins a 4-node cluster, then a node holding ~10,000 keys is decommissioned: keys moved, times.
bench-membership: build
	node --import=tsx bench/membership-moves.ts $(BENCH_ARGS)

# awscli and curl against a 4-node cluster: 1 GiB up and down, 1,000 small files (docs/s3.md).
bench-s3: build
	node --import=tsx bench/s3-transfer.ts $(BENCH_ARGS)

bench: build
	node --import=tsx bench/run.ts $(BENCH_ARGS)

# The fault scenarios, then the many-hosts run (namespaces, HAProxy, TLS, upgrade from v0.2.0; root only).
faults: build
	node --import=tsx faults/run.ts $(FAULT_ARGS)
	node --import=tsx faults/many-hosts.ts

clean:
	rm -rf dist
