#!/usr/bin/env bash
# Runs a command against a real, throwaway Secret Service: gnome-keyring on a private D-Bus session
# (ARCHITECTURE.md §10). Nothing touches the user's own keyring: the bus, the keyring files and the
# unlock password exist only for this run, and the daemon is killed when the command ends.
set -euo pipefail
if [ -z "${AIRLOCK_KEYRING_SESSION:-}" ]; then
  export AIRLOCK_KEYRING_SESSION=1
  exec dbus-run-session -- bash "$0" "$@"
fi

tmp=$(mktemp -d)
export XDG_DATA_HOME="$tmp/data"
mkdir -p "$XDG_DATA_HOME"
# --foreground keeps the daemon our child, so it can be killed; the forking form leaves orphans.
printf 'throwaway-test-password' |
  gnome-keyring-daemon --foreground --unlock --components=secrets >"$tmp/daemon.log" 2>&1 &
daemon=$!
cleanup() {
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  rm -rf "$tmp"
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
  echo "with-keyring: gnome-keyring did not take org.freedesktop.secrets on the bus" >&2
  cat "$tmp/daemon.log" >&2
  exit 1
fi

set +e
"$@"
rc=$?
set -e
exit "$rc"
