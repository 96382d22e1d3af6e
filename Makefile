# make run | stop | build | check | bench   (see README.md)
SHELL := /bin/bash
.PHONY: run stop build check bench bench-gossip deps typecheck lint test-unit test-cluster clean

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
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

lint: deps
	npx biome lint .

test-unit: deps
	npx ava 'test/unit/**/*.test.ts'

test-cluster: build
	npx ava --serial 'test/cluster/**/*.test.ts'

check: typecheck lint build test-unit test-cluster

bench-gossip: build
	node --import=tsx bench/gossip-scale.ts $(BENCH_ARGS)

bench: build
	node --import=tsx bench/run.ts $(BENCH_ARGS)

clean:
	rm -rf dist
