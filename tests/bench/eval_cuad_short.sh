#!/bin/bash
# The CPU eval of issue 9 section 5: the shortest cuad-dev contracts that hold at least MIN single-document
# questions, ingested into a fresh data dir, then `docket-cli eval` in the three modes and `--docs-only` for the
# three retrieval methods. Tables go to OUT/*.txt.
#   tests/bench/eval_cuad_short.sh BUILD_DIR OUT [MIN=60] [MODEL.gguf]
# Needs python3 (the contract choice reads manifest.jsonl and qa.jsonl).
set -euo pipefail
build=${1:?usage: eval_cuad_short.sh BUILD_DIR OUT [MIN] [MODEL]}
out=${2:?usage: eval_cuad_short.sh BUILD_DIR OUT [MIN] [MODEL]}
min=${3:-60}
model=${4:-}
shared=${DOCKET_SHARED_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
cuad=$shared/data/cuad-dev
cli=$build/app/docket-cli
mkdir -p "$out"
rm -rf "$out/data"

python3 - "$cuad" "$min" > "$out/docs.txt" <<'EOF'
import json, sys
from collections import Counter
cuad, want = sys.argv[1], int(sys.argv[2])
per_doc = Counter()
for line in open(f"{cuad}/qa.jsonl"):
    q = json.loads(line)
    if q["scope"] == "single_doc" and len(q["doc_ids"]) == 1:
        per_doc[q["doc_ids"][0]] += 1
docs = sorted((json.loads(l) for l in open(f"{cuad}/manifest.jsonl")), key=lambda m: m["chars"])
total = 0
for m in docs:
    if per_doc[m["doc_id"]] == 0:
        continue
    print(m["doc_id"])
    total += per_doc[m["doc_id"]]
    if total >= want:
        break
print(f"{total} questions", file=sys.stderr)
EOF
files=()
while IFS= read -r d; do files+=("$cuad/docs/$d.txt"); done < "$out/docs.txt"
common=(--data "$out/data" --collection cuad)
[ -n "$model" ] && common+=(--model "$model")
echo "ingesting ${#files[@]} contracts" >&2
( time "$cli" ingest "${common[@]}" "${files[@]}" ) > "$out/ingest.txt" 2>&1
for mode in oracle rag docket; do
    "$cli" eval "${common[@]}" --qa "$cuad/qa.jsonl" --mode "$mode" > "$out/eval_$mode.txt" 2> "$out/eval_$mode.err"
done
for r in bm25 routing fusion; do
    "$cli" eval "${common[@]}" --qa "$cuad/qa.jsonl" --docs-only --retrieval "$r" > "$out/docs_$r.txt" 2> /dev/null
done
echo "done: $out" >&2
