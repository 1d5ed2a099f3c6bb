#!/usr/bin/env bash
# Runs Docket on the bundled sample archive. With a display ($DISPLAY or $WAYLAND_DISPLAY) and the window built,
# it opens the window on the collection "sample" (`docket --sample`: it reads the contracts not ingested yet,
# then the sample question is in the question box; Ctrl+Enter asks). Otherwise (or with --cli) it ingests the
# contracts into "sample" (only what is not ingested yet: a second run takes seconds) and asks the question
# through `docket-cli ask`, printing the answer and its citations.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${DOCKET_BUILD_DIR:-$ROOT/build}"
MODEL="${DOCKET_MODEL_DIR:-${HOME:-/root}/.cache/docket/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
ARCHIVE="$ROOT/resources/sample-archive"
DATA=""
QUESTION="Under the laws of which state is the Trademark License Agreement governed?"

usage() {
    cat <<EOF
usage: installer/run_sample.sh [--cli] [--build-dir DIR] [--model FILE] [--data DIR] [--question TEXT]

Opens Docket's window on the sample archive when a display exists; otherwise ingests the contracts of
resources/sample-archive into the collection "sample" and asks a question about them on the command line.
  --cli             the command-line run even when a display exists
  --build-dir DIR   build directory holding app/docket-cli and app/gui/docket (default $BUILD_DIR)
  --model FILE      GGUF model (default $MODEL)
  --data DIR        Docket data directory (default: docket-cli's, \$XDG_DATA_HOME/docket)
  --question TEXT   default: "$QUESTION"
EOF
}

FORCE_CLI=0
while [[ $# -gt 0 ]]; do
    case "$1" in
    --cli) FORCE_CLI=1; shift ;;
    --build-dir) BUILD_DIR="${2:?--build-dir needs a value}"; shift 2 ;;
    --model) MODEL="${2:?--model needs a value}"; shift 2 ;;
    --data) DATA="${2:?--data needs a value}"; shift 2 ;;
    --question) QUESTION="${2:?--question needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run_sample.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

CLI="$BUILD_DIR/app/docket-cli"
[[ -x "$CLI" ]] || { echo "run_sample.sh: $CLI not found: build first (installer/setup.sh)" >&2; exit 1; }
[[ -f "$MODEL" ]] || { echo "run_sample.sh: model $MODEL not found: run installer/setup.sh to fetch it" >&2; exit 1; }

COMMON=(--model "$MODEL")
[[ -n "$DATA" ]] && COMMON+=(--data "$DATA")

WINDOW="$BUILD_DIR/app/gui/docket"
if [[ $FORCE_CLI -eq 0 && ( -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ) ]]; then
    if [[ -x "$WINDOW" ]]; then
        echo "Opening Docket's window on the sample archive (collection \"sample\"; first run: about a minute to read it)"
        exec "$WINDOW" --sample "${COMMON[@]}"
    fi
    echo "run_sample.sh: $WINDOW not built: running on the command line instead" >&2
fi
mapfile -t DOCS < <(find "$ARCHIVE" -maxdepth 1 -name '[0-9]*.txt' | sort)
[[ ${#DOCS[@]} -gt 0 ]] || { echo "run_sample.sh: no contracts in $ARCHIVE" >&2; exit 1; }

echo "Ingesting ${#DOCS[@]} sample contracts into the collection \"sample\" (first run: about a minute on 2 cores)"
"$CLI" ingest --collection sample "${COMMON[@]}" "${DOCS[@]}"
echo
echo "Question: $QUESTION"
echo "Answer:"
"$CLI" ask --collection sample "${COMMON[@]}" "$QUESTION"
