#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, builds, and runs the whole suite.
# This is README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund
npm run build
npx vitest run
