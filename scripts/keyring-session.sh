#!/usr/bin/env bash
# Runs a command inside its own D-Bus session with a Secret Service (gnome-keyring), for machines
# without a desktop: a server where admins run `airlock members …`, or CI (ARCHITECTURE.md §2).
#
#   AIRLOCK_KEYRING_PASSPHRASE  unlocks the keyring (required; it is created on first use)
#   AIRLOCK_KEYRING_DIR         where the keyrings are kept (default: ~/.local/share), so the same
#                               keys are there on the next run
#
# The daemon is this script's child and is stopped when the command ends; the command's exit code
# is the script's. Needs gnome-keyring, dbus (dbus-run-session) and libsecret-1-0.
set -euo pipefail
if [ -z "${AIRLOCK_KEYRING_BUS:-}" ]; then
  export AIRLOCK_KEYRING_BUS=1
  exec dbus-run-session -- bash "$0" "$@"
fi
if [ -z "${AIRLOCK_KEYRING_PASSPHRASE:-}" ]; then
  echo "keyring-session: set AIRLOCK_KEYRING_PASSPHRASE (it unlocks the keyring)" >&2
  exit 2
fi

export XDG_DATA_HOME="${AIRLOCK_KEYRING_DIR:-$HOME/.local/share}"
mkdir -p "$XDG_DATA_HOME"
log=$(mktemp)
# --foreground keeps the daemon our child, so it can be stopped; the forking form leaves orphans.
printf '%s' "$AIRLOCK_KEYRING_PASSPHRASE" |
  gnome-keyring-daemon --foreground --unlock --components=secrets >"$log" 2>&1 &
daemon=$!
cleanup() {
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

has_owner() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'
}
for _ in $(seq 1 100); do
  has_owner && break
  sleep 0.1
done
if ! has_owner; then
  echo "keyring-session: gnome-keyring did not take org.freedesktop.secrets on the bus" >&2
  cat "$log" >&2
  exit 1
fi

unset AIRLOCK_KEYRING_PASSPHRASE
set +e
"$@"
rc=$?
set -e
exit "$rc"
