#!/bin/bash
# The whole cuad-dev eval on the GPU machine (issue 9 section 5): every contract ingested with the chosen
# backend, then `docket-cli eval` in the three modes, the retrieval table, and the archive questions. Each stage
# is bounded by STAGE_S seconds (the device's commands are limited); ingest resumes where a bounded run stopped,
# so the same command can simply be run again on a warm machine. PACK=FILE.tgz packs OUT after each stage.
#   eval_cuad_device.sh CLI CUAD_DIR DATA_DIR OUT [BACKEND=cuda] [STAGES="ingest docs docket rag oracle archive"]
set -uo pipefail
cli=${1:?usage: eval_cuad_device.sh CLI CUAD_DIR DATA_DIR OUT [BACKEND] [STAGES]}
cuad=${2:?} data=${3:?} out=${4:?}
backend=${5:-cuda}
stages=${6:-ingest docs docket rag oracle archive}
limit=${STAGE_S:-420}
mkdir -p "$out"
common=(--data "$data" --backend "$backend" --collection cuad)
run_stage() {  # name, command...: stdout to OUT/name.json (or .txt), stderr's tail to OUT/name.err
    local name=$1
    shift
    local t0=$SECONDS
    timeout "$limit" "$@" > "$out/$name.out" 2> "$out/$name.err.full"
    local rc=$?
    tail -c 20000 "$out/$name.err.full" > "$out/$name.err" && rm -f "$out/$name.err.full"
    echo "$name: exit $rc after $((SECONDS - t0)) s" | tee -a "$out/stages.txt"
    # The device returns at most 8 files: everything so far, packed after each stage.
    [ -n "${PACK:-}" ] && tar czf "$PACK" -C "$out" .
}
for s in $stages; do
    case $s in
    ingest) run_stage ingest "$cli" ingest "${common[@]}" "$cuad/docs" ;;
    docs) run_stage docs_bm25 "$cli" eval "${common[@]}" --qa "$cuad/qa.jsonl" --docs-only --json ;;
    docket | rag | oracle) run_stage "eval_$s" "$cli" eval "${common[@]}" --qa "$cuad/qa.jsonl" --mode "$s" --json ;;
    archive) run_stage eval_archive "$cli" eval "${common[@]}" --qa "$cuad/qa.jsonl" --scope archive --json ;;
    *) echo "unknown stage $s" >&2 ;;
    esac
done
