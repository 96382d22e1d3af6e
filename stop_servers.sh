#!/usr/bin/env bash
# Stop what start_n_servers.sh started, by the pids in run/. usage: ./stop_servers.sh [--kill] [name ...]
set -euo pipefail
cd "$(dirname "$0")"
[ -f dist/cluster-ctl/cli.js ] || make build
exec node dist/cluster-ctl/cli.js stop "$@"
