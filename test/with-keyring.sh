#!/usr/bin/env bash
# Runs a command against a real, throwaway Secret Service (ARCHITECTURE.md §10): the same session
# scripts/keyring-session.sh starts on a headless server, here with keyring files and an unlock
# password that exist only for this run. Nothing touches the user's own keyring.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
set +e
AIRLOCK_KEYRING_DIR="$tmp/data" AIRLOCK_KEYRING_PASSPHRASE='throwaway-test-password' \
  bash "$root/scripts/keyring-session.sh" "$@"
rc=$?
set -e
exit "$rc"
