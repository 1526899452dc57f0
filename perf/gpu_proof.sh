#!/usr/bin/env bash
# The CUDA proof (issue 16) in one command, on a bare GPU machine without network access:
#
#   perf/gpu_proof.sh wheels              # here, on a machine with pip access: the packages the GPU image lacks -> .whl/
#   perf/gpu_proof.sh all [quick]         # there: calibrate + estimates (each phase alone: calibrate | estimate)
#
# calibrate: papermill runs examples/calibrate.ipynb with the h100-sxm5 preset, PyTorch on CUDA, the full sweep at
#   every precision the GPU expresses (fp64 fp32 tf32 fp16 bf16 fp8 e4m3/e5m2 int8) plus the operator grid, while
#   nvidia-smi samples the clocks; the profile and the executed notebook land in hardware_registry/gpu/<id>/calibrations/.
# estimate: perf/gpu_proof.py checks that profile against the datasheet and estimates real models against CUDA-timed
#   measurements (gpu_proof.json, gpu_proof.md).
# Everything it writes is also copied to $OUT (the device tool's return folder) when that is set. DEADLINE (epoch
# seconds): the estimates start no case after it and write what they have.
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:-all}; quick=${2:-}
PRESET=${PRESET:-h100-sxm5}
WHEELS="pydantic python-slugify platformdirs ipywidgets papermill ipykernel fastcore"
# what the GPU image already has (its torch, numpy, ... must stay the image's own)
HAVE=" attrs certifi charset-normalizer click idna numpy packaging psutil pygments python-dateutil pyyaml requests tqdm
 typing-extensions urllib3 threadpoolctl tzdata "

if [ "$phase" = wheels ]; then
  rm -rf .whl /tmp/ck_wheels && mkdir -p .whl /tmp/ck_wheels
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.whl/' >> .git/info/exclude; }
  python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64 -d /tmp/ck_wheels $WHEELS
  for f in /tmp/ck_wheels/*.whl; do
    n=$(basename "$f" | cut -d- -f1 | tr 'A-Z_' 'a-z-')
    case "$HAVE" in *" $n "*) ;; *) cp "$f" .whl/ ;; esac
  done
  ls .whl | wc -l; exit 0
fi

if ! python3 -c "import papermill, fastcore, pydantic, slugify, ipykernel, ipywidgets, platformdirs" 2>/dev/null; then
  [ -d .whl ] || { echo "missing packages and no .whl/: run 'perf/gpu_proof.sh wheels' where pip works"; exit 2; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/ck_site .whl/*.whl
  export PYTHONPATH=/tmp/ck_site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 CALIBKIT_REGISTRY=$PWD/hardware_registry
res=perf/results/gpu; mkdir -p "$res"
to_out() {   # what is there so far, to the device tool's return folder (a call cut short still brings it back)
  [ -n "${OUT:-}" ] || return 0
  cp "$res"/* "$OUT"/ 2>/dev/null || true
  latest=$(ls -t hardware_registry/gpu/*/calibrations/*.json 2>/dev/null | head -1 || true)
  [ -z "$latest" ] || { mkdir -p "$OUT/profile" && cp "$latest" "${latest%.json}.ipynb" "$OUT/profile/"; } || true
}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv | tee "$res/gpu.csv"

if [ "$phase" = calibrate ] || [ "$phase" = all ]; then
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,utilization.gpu,clocks_event_reasons.active \
    --format=csv,noheader,nounits -lms 250 > "$res/clocks.csv" &
  smi=$!
  t0=$(date +%s)
  python3 -m papermill examples/calibrate.ipynb /tmp/ck_run.ipynb -k python3 --log-output \
    -p preset "$PRESET" -p framework pytorch -p quick "$([ "$quick" = quick ] && echo True || echo False)" \
    2>&1 | grep -v "^Executing" | tee "$res/calibrate.log"
  kill $smi || true
  echo "calibration wall time: $(( $(date +%s) - t0 )) s" | tee -a "$res/calibrate.log"
  to_out
fi

if [ "$phase" = estimate ] || [ "$phase" = all ]; then
  profile=$(ls -t hardware_registry/gpu/*/calibrations/*.json | head -1)
  args=(); [ "$quick" = quick ] && args=(--models resnet18,mobilenet_v2,vit_b_16,bert_small --batches 1,32)
  python3 perf/gpu_proof.py --profile "$profile" --out "$res" --clocks "$res/clocks.csv" \
    ${DEADLINE:+--deadline "$DEADLINE"} "${args[@]}"
fi

to_out
