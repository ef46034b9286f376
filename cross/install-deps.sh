#!/usr/bin/env bash
# Installs the Debian packages the cross builds need, as measured in CROSS.md (the shared notes on
# cross builds). Idempotent: installs nothing when everything is there.
# Only the arm64 foreign architecture is added: armhf's security index is broken on the build
# machines' mirror (apt-get update would fail as a whole), so armv7 builds its std from source
# (-Zbuild-std with rust-web-src) and links against libc6-dev-armhf-cross instead.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(rustc-web cargo-web libstd-rust-web-dev:arm64 rust-web-src gcc-aarch64-linux-gnu
  gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross qemu-user-static file)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "cross deps: all installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "cross/install-deps.sh: missing ${missing[*]}; run as root" >&2
  exit 1
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "cross deps: installed ${missing[*]}"
