#!/usr/bin/env bash
# Debian's nginx for the slow-client test (tests/test_slow_bodies_nginx.py); nothing else needs it.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "nginx is missing: install Debian's 'nginx' (root needed); the slow-client test will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends nginx >/dev/null
echo "installed $(/usr/sbin/nginx -v 2>&1)"
