#!/usr/bin/env bash
# Make sure Debian's chromium (and a Japanese font for readable screenshots) is installed.
# Playwright drives it through executable_path; nothing is downloaded from outside Debian.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi -e ipa -e noto; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium is missing: install Debian's 'chromium' and 'fonts-ipafont-gothic' (root needed); browser tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-ipafont-gothic fontconfig >/dev/null
echo "installed $(chromium --version 2>/dev/null)"
