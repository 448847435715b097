#!/usr/bin/env bash
# Make sure Debian's PostgreSQL server binaries are installed (initdb, pg_ctl): the tests start a
# throwaway cluster of their own in a temp directory; no service is enabled or started here.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL is missing: install Debian's 'postgresql' (root needed); PostgreSQL tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d 101: install the binaries without starting the packaged cluster.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
echo "installed $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
