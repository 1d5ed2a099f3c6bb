#!/bin/bash
# Runs the CUDA tests and `bench gpu` on the lent H100 from a bundle built elsewhere (.devcarry/bundle.tar.xz:
# bin/ + the non-system shared libraries). Output under $OUT. Usage: run_device.sh [tests|bench|all]
set -o pipefail
what=${1:-all}
mkdir -p /tmp/b && tar xJf .devcarry/bundle.tar.xz -C /tmp/b || exit 1
CL=$(dirname "$(find / -name 'libcublasLt.so.13*' -not -path '/proc/*' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH=/tmp/b/lib:$CL:/usr/local/cuda/lib64:$LD_LIBRARY_PATH
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee $OUT/gpu.txt
if [ "$what" != bench ]; then
  /tmp/b/bin/test_cuda_ops_match_cpu_twins 2>&1 | tee $OUT/test_ops.log | grep -E "QINFO|FAIL|Totals" | cut -c1-220
  /tmp/b/bin/test_cuda_model_matches_cpu 2>&1 | tee $OUT/test_model.log | grep -E "QINFO|FAIL|Totals|DIFFER|cpu |gpu " | cut -c1-300
fi
if [ "$what" != tests ]; then
  /usr/bin/time -f "make-model %e s" /tmp/b/bin/docket-cli make-model --shape llama3-8b --type q4_k --out /tmp/l8.gguf --quiet 2>&1 | tail -2
  /tmp/b/bin/docket-cli bench gpu --model /tmp/l8.gguf 2>&1 | tee $OUT/bench_8b.log
  /tmp/b/bin/docket-cli make-model --shape smollm2-135m --type q4_k --out /tmp/s.gguf --quiet 2>&1 | tail -2
  /tmp/b/bin/docket-cli bench gpu --model /tmp/s.gguf --contexts 0,8192,32768 2>&1 | tee $OUT/bench_smollm2.log
fi
