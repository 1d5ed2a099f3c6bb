#!/bin/bash
# Packs a CPU-only docket-dev and its non-system shared libraries (spdlog, fmt, SQLite, liburing, zstd, xxhash,
# ...) into .devcarry/store_bundle.tar.xz, for `bench store` on a host without Docket's Debian packages
# (run_store_bench.sh unpacks and runs it there). Usage: make_store_bundle.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: make_store_bundle.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$build/app/docket-dev"
grep -q '^DOCKET_ENABLE_CUDA:BOOL=OFF' "$build/CMakeCache.txt" || { echo "$build is not a CPU-only build"; exit 1; }
grep -q '^CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt" || { echo "$build is not a Release build"; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$root/.devcarry"
cp "$bin" "$stage/bin/"
strip --strip-debug "$stage/bin/docket-dev"  # symbols kept for perf
# Everything ldd finds except glibc, libstdc++ and libgcc (the host's own).
ldd "$bin" | awk '/=> \//{print $3}' | sort -u |
  grep -vE '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux[^/]*)\.so' |
  while read -r l; do cp -L "$l" "$stage/lib/"; done
git -C "$root" describe --always --dirty > "$stage/COMMIT"  # dirty: others' edits were built in too
tar cJf "$root/.devcarry/store_bundle.tar.xz" -C "$stage" .
ls -la "$root/.devcarry/store_bundle.tar.xz"
tar tJf "$root/.devcarry/store_bundle.tar.xz"
