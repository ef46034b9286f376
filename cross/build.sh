#!/usr/bin/env bash
# cross/build.sh x86_64|aarch64|armv7: a static release binary with the [profile.small] size profile.
# Prints the path of the binary on stdout (cargo's output goes to stderr).
# x86_64 uses rustup's toolchain; aarch64 and armv7 use Debian's rustc-web/cargo-web
# (cross/install-deps.sh), which must be called with RUSTC=/usr/bin/rustc or cargo picks rustup's
# rustc first on PATH and fails with E0463. armv7 has no prebuilt std here: -Zbuild-std.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  x86_64) triple=x86_64-unknown-linux-gnu ;;
  aarch64) triple=aarch64-unknown-linux-gnu ;;
  armv7) triple=armv7-unknown-linux-gnueabihf ;;
  *) echo "usage: cross/build.sh x86_64|aarch64|armv7" >&2; exit 64 ;;
esac

args=(build --locked --config cross/config.toml --target "$triple" --profile small --bin applianced)
case "$1" in
  x86_64) cargo "${args[@]}" >&2 ;;
  aarch64) RUSTC=/usr/bin/rustc /usr/bin/cargo "${args[@]}" >&2 ;;
  armv7) RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc /usr/bin/cargo "${args[@]}" -Zbuild-std=std,panic_abort >&2 ;;
esac

target_dir="${CARGO_TARGET_DIR:-target}"
bin="$(realpath "$target_dir/$triple/small/applianced")"
if ! file "$bin" | grep -Eq 'statically linked|static-pie linked'; then
  echo "cross/build.sh: $bin is not static: $(file -b "$bin")" >&2
  exit 1
fi
echo "$bin"
