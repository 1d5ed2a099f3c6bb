#!/bin/bash
# Runs the CUDA tests and `bench gpu` on the lent H100 from a bundle built elsewhere (.devcarry/bundle.tar.xz,
# made by make_bundle.sh). Output under $OUT. Usage: run_device.sh [tests|bench|all|smollm2|session]
#   SmolLM2 (98 MB) is over one call's 64 MiB, so it travels in two parts over two calls to a warm machine:
#   .devcarry/smol.part1 (kept in /tmp/smol), then .devcarry/smol.part2; the second call reassembles it,
#   checks its sha256 and runs the golden-prompt GPU-vs-CPU test (`smollm2`), or the runtime-session test:
#   KV import/export, prefill K/V, and ingest + ask of sample contracts on CUDA vs CPU (`session`; it reuses a
#   model already reassembled by an earlier `smollm2` call on the same warm machine).
set -o pipefail
what=${1:-all}
if [ -f .devcarry/bundle.tar.xz ]; then rm -rf /tmp/b; mkdir -p /tmp/b && tar xJf .devcarry/bundle.tar.xz -C /tmp/b || exit 1; fi
[ -x /tmp/b/bin/docket-dev ] || { echo "no bundle: carry .devcarry/bundle.tar.xz"; exit 1; }
mkdir -p /tmp/smol
for p in .devcarry/smol.part1 .devcarry/smol.part2; do [ -f $p ] && cp $p /tmp/smol/; done
CL=$(dirname "$(find / -name 'libcublasLt.so.13*' -not -path '/proc/*' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH=/tmp/b/lib:$CL:/usr/local/cuda/lib64:$LD_LIBRARY_PATH
export QTEST_FUNCTION_TIMEOUT=150000  # a hung kernel fails its test in 150 s, not 300
export DOCKET_GOLDEN_DATA=$PWD/tests/golden/data DOCKET_MODEL_DIR=/tmp/models
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee $OUT/gpu.txt
M=/tmp/models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ "$what" = smollm2 ] || { [ "$what" = session ] && [ -f /tmp/smol/smol.part2 ]; }; then
  mkdir -p /tmp/models && cat /tmp/smol/smol.part1 /tmp/smol/smol.part2 > $M
  sha256sum $M
fi
if [ "$what" = session ]; then
  [ -f $M ] || { echo "no SmolLM2 at $M: carry smol.part1, then smol.part2 (see above)"; exit 1; }
  DOCKET_SAMPLE_ARCHIVE=$PWD/resources/sample-archive /tmp/b/bin/test_cuda_session_matches_cpu 2>&1 |
    tee $OUT/test_session.log | grep -E "QINFO|FAIL|PASS|SKIP|Totals|Loc:" | cut -c1-900
  for be in cuda cpu; do  # the CLI on both backends: ingest + ask of one contract
    d=/tmp/cli-$be; rm -rf $d
    /tmp/b/bin/docket-cli ingest --data $d --backend $be --collection c resources/sample-archive/03-trademark-license-palmer-square.txt 2>&1 | tail -2 | tee -a $OUT/cli_session.log
    /tmp/b/bin/docket-cli ask --data $d --backend $be --collection c "Which state's laws govern the Trademark License Agreement?" 2>&1 | tee -a $OUT/cli_session.log
  done
  exit 0
fi
if [ "$what" = smollm2 ]; then
  /tmp/b/bin/test_cuda_model_matches_cpu smollm2_golden_prompts_gpu_matches_cpu 2>&1 | tee $OUT/test_smollm2.log |
    grep -E "QINFO|FAIL|PASS|Totals|cpu |gpu " | cut -c1-600
  for be in cuda cpu; do  # the CLI on both backends: same greedy text, same top logits
    /tmp/b/bin/docket-dev generate --model $M --chat --prompt "What is the capital of France?" -n 24 --backend $be 2>&1 | tee -a $OUT/cli.log
    /tmp/b/bin/docket-dev logits --model $M --prompt "The capital of France is" --top 3 --backend $be 2>&1 | tee -a $OUT/cli.log
  done
  exit 0
fi
if [ "$what" != bench ]; then
  /tmp/b/bin/test_cuda_ops_match_cpu_twins 2>&1 | tee $OUT/test_ops.log | grep -E "QINFO|FAIL|Totals" | cut -c1-220
  /tmp/b/bin/test_cuda_model_matches_cpu gpu_matches_cpu 2>&1 | tee $OUT/test_model.log |
    grep -E "QINFO|FAIL|Totals|cpu |gpu " | cut -c1-400
fi
if [ "$what" != tests ]; then
  /usr/bin/time -f "make-model %e s" /tmp/b/bin/docket-dev make-model --shape llama3-8b --type q4_k --out /tmp/l8.gguf --quiet 2>&1 | tail -2
  /tmp/b/bin/docket-dev bench gpu --model /tmp/l8.gguf ${BENCH_ARGS:-} 2>&1 | tee $OUT/bench_8b.log
  if [ -z "${SKIP_SMALL:-}" ]; then
    /tmp/b/bin/docket-dev make-model --shape smollm2-135m --type q4_k --out /tmp/s.gguf --quiet 2>&1 | tail -2
    /tmp/b/bin/docket-dev bench gpu --model /tmp/s.gguf --contexts 0,8192,32768 2>&1 | tee $OUT/bench_smollm2.log
  fi
fi
