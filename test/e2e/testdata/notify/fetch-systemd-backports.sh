#!/usr/bin/env bash
# fetch-systemd-backports.sh [DIR] downloads systemd >= 253 from Debian 12's
# bookworm-backports (254 today) as .deb files into DIR (default
# /var/cache/gotwistd-e2e/systemd-backports), for the Type=notify-reload case
# of test/e2e/notify_test.go, which unpacks them into one box's overlay: the
# host's systemd is not touched. Run as root (./scripts/test does). It adds
# the backports source if missing; backports are never installed by default.
# Idempotent: with the files already there, it does nothing.
set -euo pipefail
dir=${1:-/var/cache/gotwistd-e2e/systemd-backports}
packages=(systemd libsystemd-shared libsystemd0 systemd-dev)

have=1
for p in "${packages[@]}"; do
	compgen -G "$dir/${p}_*.deb" >/dev/null || have=0
done
if [ "$have" = 1 ]; then
	echo "== systemd from bookworm-backports: already in $dir"
	exit 0
fi

list=/etc/apt/sources.list.d/backports.list
if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo 'deb http://deb.debian.org/debian bookworm-backports main' >"$list"
fi
# Refresh the package lists of the backports suite.
apt-get update -qq
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
(cd "$tmp" && apt-get download -qq "${packages[@]/%//bookworm-backports}" 2>&1 | grep -v 'Download is performed unsandboxed' || true)
for p in "${packages[@]}"; do
	compgen -G "$tmp/${p}_*.deb" >/dev/null || { echo "fetch-systemd-backports: $p was not downloaded" >&2; exit 1; }
done
mkdir -p "$dir"
rm -f "$dir"/*.deb
mv "$tmp"/*.deb "$dir"/
echo "== systemd from bookworm-backports: $(cd "$dir" && ls -- *.deb | tr '\n' ' ')in $dir"
