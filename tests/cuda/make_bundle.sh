#!/bin/bash
# Packs the CUDA test binaries, docket-cli and docket-dev with their non-system shared libraries (Qt, spdlog, fmt, ...)
# into .devcarry/bundle.tar.xz for run_device.sh on a machine that has the CUDA driver but not Docket's
# Debian packages. Usage: make_bundle.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: make_bundle.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
stage=$(mktemp -d)
mkdir -p "$stage/bin" "$stage/lib" "$root/.devcarry"
bins=("$build/app/docket-cli" "$build/app/docket-dev" "$build/tests/cuda/test_cuda_ops_match_cpu_twins"
      "$build/tests/cuda/test_cuda_model_matches_cpu" "$build/tests/cuda/test_cuda_session_matches_cpu")
cp "${bins[@]}" "$stage/bin/"
strip --strip-debug "$stage"/bin/* || true
# Libraries outside glibc/libstdc++ and the CUDA toolkit (the device machine brings its own CUDA).
ldd "${bins[@]}" | awk '/=> \//{print $3}' | sort -u |
  grep -vE '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux[^/]*)\.so|/cuda|libcu|libnv' |
  while read -r l; do cp -L "$l" "$stage/lib/"; done
tar cJf "$root/.devcarry/bundle.tar.xz" -C "$stage" .
rm -rf "$stage"
ls -la "$root/.devcarry/bundle.tar.xz"
