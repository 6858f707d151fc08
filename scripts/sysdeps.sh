#!/usr/bin/env bash
# System packages the project needs beside Python. `sysdeps.sh` alone: bubblewrap (the code
# sandbox) and headless Chromium + chromedriver (the web-page test); `sysdeps.sh sandbox`:
# bubblewrap only (make demo). Installs what is missing as root with apt-get; otherwise
# stops with one line naming the packages.
set -euo pipefail
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ "${1:-all}" != sandbox ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "missing system packages: ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
exit 1
