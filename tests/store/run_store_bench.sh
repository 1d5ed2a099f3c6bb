#!/bin/bash
# Runs `docket-dev bench store` from .devcarry/store_bundle.tar.xz (make_store_bundle.sh) on the disk holding
# /var/tmp, logs under $OUT (or ./store-bench-out). Usage: run_store_bench.sh [SIZE]   (default 2G)
set -o pipefail
size=${1:-2G}
out=${OUT:-$PWD/store-bench-out}
mkdir -p "$out"
rm -rf /tmp/sb && mkdir -p /tmp/sb && tar xJf .devcarry/store_bundle.tar.xz -C /tmp/sb || exit 1
export LD_LIBRARY_PATH=/tmp/sb/lib:$LD_LIBRARY_PATH
cli=/tmp/sb/bin/docket-dev
ldd $cli | grep -q 'not found' && { ldd $cli; exit 1; }
{ echo "commit $(cat /tmp/sb/COMMIT)"; nproc; uname -r; df -h /var/tmp; lsblk -o NAME,SIZE,ROTA,TYPE,MOUNTPOINT; } 2>&1 | tee "$out/host.txt"
run() {  # name, then bench args; DIR is fresh per run and removed after
  local name=$1; shift
  rm -rf /var/tmp/dks-$name
  echo "== docket-dev bench store $*" | tee "$out/$name.log"
  $cli bench store --dir /var/tmp/dks-$name "$@" 2>&1 | tee -a "$out/$name.log"
  rm -rf /var/tmp/dks-$name
}
run int4 --size $size --qd 8,32,64
run fp16 --size $size --codec fp16 --qd 32,64
run int4-inline --size $size --qd 32,64 --check-threads 0   # callbacks on the ring thread, as before
run int4-cache --size $size --qd 32 --no-direct              # CPU side only (page cache)
# Raw reads with the store's request geometry (fp16 extents are 1028 KiB, int4 772/704 KiB, back to back, so
# they drift across the disk's 1 MiB grid): does the raw read lose what the store loses?
run fp16-rawgeo --size $size --codec fp16 --qd 32,64 --raw-block 1028K
run int4-rawgeo --size $size --qd 32,64 --raw-block 772K
