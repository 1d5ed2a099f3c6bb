#!/usr/bin/env bash
# Screenshots of the real window under Xvfb (1400x900): the dashboard during an ingest of three sample contracts,
# then the main window after an answer, then the viewer on the answer's first citation. Needs xvfb-run and a
# built app/gui/docket; writes PNGs into OUT (default tests/ui/screens).
#   tests/ui/make_screenshots.sh [--build-dir DIR] [--out DIR] [--scale F]   (F: QT_SCALE_FACTOR, e.g. 2)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="$ROOT/build"
OUT="$ROOT/tests/ui/screens"
SCALE=1
while [[ $# -gt 0 ]]; do
    case "$1" in
    --build-dir) BUILD_DIR="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --scale) SCALE="${2:?}"; shift 2 ;;
    *) echo "make_screenshots.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
DOCKET="$BUILD_DIR/app/gui/docket"
[[ -x "$DOCKET" ]] || { echo "make_screenshots.sh: $DOCKET not built" >&2; exit 1; }
command -v xvfb-run >/dev/null || { echo "make_screenshots.sh: xvfb-run missing (Debian package xvfb)" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf -- "$WORK"' EXIT
mkdir -p "$OUT" "$WORK/archive"
for f in 03-trademark-license-palmer-square 04-endorsement-lifeway-foods 06-web-hosting-centrack-i-on; do
    cp "$ROOT/resources/sample-archive/$f.txt" "$WORK/archive/"
done
suffix=""
[[ "$SCALE" != 1 ]] && suffix="@${SCALE}x"
screen="-screen 0 $((1400 * ${SCALE%.*}))x$((900 * ${SCALE%.*}))x24"
run() { DOCKET_SAMPLE_ARCHIVE="$WORK/archive" QT_SCALE_FACTOR="$SCALE" xvfb-run -a -s "$screen" "$DOCKET" \
        --settings "$WORK/docket.conf" --data "$WORK/data" --sample "$@"; }
Q="Under the laws of which state is the Trademark License Agreement governed?"
run --screenshot "$OUT/dashboard_during_ingest$suffix.png" --screenshot-delay 25
run --ask "$Q" --screenshot "$OUT/main_window_answer$suffix.png"
run --ask "$Q" --open-citation --screenshot "$OUT/viewer_citation$suffix.png"
echo "screenshots in $OUT"
