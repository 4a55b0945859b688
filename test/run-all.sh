#!/usr/bin/env bash
# `npm test`: every suite, against a real keychain, ending with one line "N passed, N failed".
# The CLI tests spawn the built `airlock`, so this builds first.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-results
rm -f test-results/*.json

if ! npm run --silent build >test-results/build.log 2>&1; then
  cat test-results/build.log
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

status=0
bash test/with-keyring.sh npx vitest run --config test/vitest.config.ts \
  --reporter=default --reporter=json --outputFile.json=test-results/vitest.json || status=$?

node test/summarize.mjs test-results/vitest.json || status=1
exit "$status"
