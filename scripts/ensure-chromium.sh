#!/usr/bin/env bash
# Make sure Debian's chromium and the fonts we draw and screenshot with are installed:
# Noto Sans CJK (Japanese, Chinese, Korean rich-menu labels and pages) and DejaVu Sans (Latin,
# Vietnamese). Playwright drives chromium through executable_path; nothing is downloaded from outside Debian.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -q "Noto Sans CJK" \
  && fc-list 2>/dev/null | grep -qi "DejaVu Sans"; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium or fonts missing: install Debian's 'chromium', 'fonts-noto-cjk' and 'fonts-dejavu-core' (root needed); browser and rich-menu tests will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-ipafont-gothic fonts-noto-cjk fonts-dejavu-core fontconfig >/dev/null
echo "installed $(chromium --version 2>/dev/null)"
