#!/bin/sh
# Install the Debian packages popcert's tests use for real, when we can (root + apt).
PKGS="iptables nftables chromium wrk"
missing=""
command -v iptables-restore >/dev/null 2>&1 || missing="$missing iptables"
command -v nft >/dev/null 2>&1 || missing="$missing nftables"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages:$missing"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null \
    || echo "warning: could not install$missing; the tests that need them will skip"
else
  echo "note: not root, so$missing not installed; the tests that need them will skip (see README)"
fi
exit 0
