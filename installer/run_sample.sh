#!/usr/bin/env bash
# Runs Docket on the bundled sample archive: asks the default model who the parties to the first sample contract
# are and streams its answer. Until retrieval and the GUI land this drives `docket-cli generate` directly with an
# excerpt of the contract (~1,500 tokens) in the prompt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${DOCKET_BUILD_DIR:-$ROOT/build}"
MODEL="${DOCKET_MODEL_DIR:-${HOME:-/root}/.cache/docket/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
ARCHIVE="$ROOT/resources/sample-archive"
QUESTION="Who are the parties to this agreement?"
EXCERPT_CHARS=6000 # ~1,500 tokens of English contract text at ~4 characters per token
MAX_TOKENS=128

usage() {
    cat <<EOF
usage: installer/run_sample.sh [--build-dir DIR] [--model FILE] [--question TEXT]

Asks the model a question about the first contract in resources/sample-archive and streams the answer.
  --build-dir DIR   build directory holding app/docket-cli (default $BUILD_DIR)
  --model FILE      GGUF model (default $MODEL)
  --question TEXT   default: "$QUESTION"
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --build-dir) BUILD_DIR="${2:?--build-dir needs a value}"; shift 2 ;;
    --model) MODEL="${2:?--model needs a value}"; shift 2 ;;
    --question) QUESTION="${2:?--question needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run_sample.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

CLI="$BUILD_DIR/app/docket-cli"
[[ -x "$CLI" ]] || { echo "run_sample.sh: $CLI not found: build first (installer/setup.sh)" >&2; exit 1; }
[[ -f "$MODEL" ]] || { echo "run_sample.sh: model $MODEL not found: run installer/setup.sh to fetch it" >&2; exit 1; }
if ! "$CLI" help | grep -Eq '^[[:space:]]+generate[[:space:]]'; then
    echo "run_sample.sh: this build of docket-cli has no 'generate' command yet (it is being written);" >&2
    echo "               commands available now:" >&2
    "$CLI" help | sed -n 's/^  /                 /p' >&2
    exit 3
fi

DOC="$(find "$ARCHIVE" -maxdepth 1 -name '[0-9]*.txt' | sort | head -n 1)"
[[ -n "$DOC" ]] || { echo "run_sample.sh: no contracts in $ARCHIVE" >&2; exit 1; }

PROMPT="$(mktemp "${TMPDIR:-/tmp}/docket-prompt.XXXXXX")"
trap 'rm -f -- "$PROMPT"' EXIT
# Cut at the last paragraph (or line, or word) break before the limit, so the excerpt ends cleanly.
python3 - "$DOC" "$EXCERPT_CHARS" "$QUESTION" >"$PROMPT" <<'EOF'
import sys
path, limit, question = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = open(path, encoding="utf-8", errors="replace").read()
excerpt = text
if len(text) > limit:
    cut = limit
    for sep in ("\n\n", "\n", " "):
        at = text.rfind(sep, 0, limit)
        if at > limit // 2:
            cut = at
            break
    excerpt = text[:cut].rstrip() + "\n[...]"
sys.stdout.write("Read this excerpt of a contract and answer the question.\n\n"
                 f"{excerpt.strip()}\n\nQuestion: {question}\n")
EOF

echo "Contract: ${DOC#"$ROOT"/} ($(stat -c %s -- "$DOC") bytes; excerpt of $(wc -c <"$PROMPT") bytes in the prompt)"
echo "Model:    $MODEL"
echo "Question: $QUESTION"
echo "Answer (streamed by docket-cli generate):"
echo
"$CLI" generate --model "$MODEL" --chat --prompt-file "$PROMPT" -n "$MAX_TOKENS"
echo
