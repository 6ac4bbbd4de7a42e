#!/usr/bin/env bash
# Prints where Asterisk lives: "/" when a system asterisk >= 20 is on PATH, otherwise the path of a
# cached Debian sid root carrying Asterisk 22 (Debian 12 ships none), building it on first use.
# Progress goes to stderr; stdout is only the answer, so callers can capture it.
set -euo pipefail

if command -v asterisk >/dev/null 2>&1; then
  major=$(asterisk -V 2>/dev/null | sed -n 's/^Asterisk \([0-9]*\).*/\1/p')
  if [ -n "$major" ] && [ "$major" -ge 20 ]; then
    echo /
    exit 0
  fi
fi

root=${NGALAM_ASTERISK_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/ngalam112/asterisk-sid}
if [ -f "$root/.ngalam112-ready" ]; then
  echo "$root"
  exit 0
fi

# The mirror this machine's apt already uses (deb822 or one-line format); NGALAM_DEBIAN_MIRROR overrides.
mirror=${NGALAM_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n1 || true)
fi
if [ -z "$mirror" ]; then
  echo "asterisk-root: cannot tell which Debian mirror to use; set NGALAM_DEBIAN_MIRROR" >&2
  exit 1
fi

building="$root.building"
rm -rf "$building"
mkdir -p "$(dirname "$root")"
echo "asterisk-root: building Debian sid root with Asterisk 22 in $root (once; about a minute)" >&2
debootstrap --variant=minbase sid "$building" "$mirror" >&2
cp /etc/resolv.conf "$building/etc/resolv.conf"
cp /etc/hosts "$building/etc/hosts"  # Asterisk looks up its own hostname at start
# The mirror's sid Release file can read as expired; sid moves daily, so that is not a risk here.
chroot "$building" apt-get -qq -o Acquire::Check-Valid-Until=false update >&2
DEBIAN_FRONTEND=noninteractive chroot "$building" apt-get install -y -qq --no-install-recommends \
  asterisk asterisk-modules >&2
# Asterisk started with -U root refuses to read config owned by its packaged user.
for d in etc/asterisk var/lib/asterisk var/spool/asterisk var/log/asterisk var/run/asterisk; do
  [ -e "$building/$d" ] && chown -R root:root "$building/$d"
done
chroot "$building" asterisk -V >&2
touch "$building/.ngalam112-ready"
rm -rf "$root"
mv "$building" "$root"
echo "$root"
