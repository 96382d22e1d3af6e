#!/usr/bin/env bash
# Start storage nodes node-1..node-N (ports NODE_BASE_PORT+i) and the proxy (PROXY_PORT); only what is not running.
# env: PROXY_PORT (8080), NODE_BASE_PORT (9000), DATA_DIR (./data), N = $1 (4)
set -euo pipefail
cd "$(dirname "$0")"
[ -f dist/cluster-ctl/cli.js ] || make build
exec node dist/cluster-ctl/cli.js start "${1:-4}"
