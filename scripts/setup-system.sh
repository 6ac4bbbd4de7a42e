#!/usr/bin/env bash
# Installs the Debian packages the centre and its tests need, only those missing,
# so a second run costs a dpkg query and nothing else.
set -euo pipefail

packages=(
  python3-venv          # the project's virtualenv
  debootstrap           # builds the Debian sid root that carries Asterisk 22
  espeak-ng sox ffmpeg  # Indonesian prompts and test speech; pydub needs ffmpeg
  sqlite3               # inspecting the default database by hand
  postgresql            # the production database, exercised by tests
  chromium              # the console's browser tests (driven by Playwright, no browser download)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
