#!/usr/bin/env bash
# Everything boda does on an NVIDIA GPU machine (H100/H200), in steps that each fit one
# device-tool call (10 minutes). From the repo root, after installing the carried wheels
# (benchmarks/nvidia/README.md):
#
#   bash benchmarks/nvidia/run.sh check        # driver, NVRTC, OpenCL ICDs, PyTorch/cuDNN
#   bash benchmarks/nvidia/run.sh test         # tests/test_cuda.py and the CUDA compile tests
#   bash benchmarks/nvidia/run.sh tune  MODEL BATCH [BUDGET]   # into $RESULTS/tuning.sqlite
#   bash benchmarks/nvidia/run.sh bench MODEL BATCH             # -> $RESULTS/MODEL-bBATCH-nvidia.*
#
# RESULTS defaults to $OUT (the device tool's folder that comes back), else benchmarks/results.
set -uo pipefail
RESULTS=${RESULTS:-${OUT:-benchmarks/results}}
mkdir -p "$RESULTS"
export PYTHONUNBUFFERED=1 BODA_CACHE_DIR=${BODA_CACHE_DIR:-/tmp/boda-cache}
step=${1:?usage: run.sh check|test|tune|bench ...}

model_file() {  # a zoo model at a batch size, written once
    local f=/tmp/$1-b$2.onnx
    [ -f "$f" ] || python3 -m boda.cli zoo "$1" --batch "$2" -o "$f" >/dev/null
    echo "$f"
}

case $step in
check)
    nvidia-smi --query-gpu=name,driver_version,compute_cap,clocks.max.sm --format=csv
    python3 - <<'PY'
from cuda.bindings import driver, nvrtc
driver.cuInit(0)
print("CUDA driver API version:", driver.cuDriverGetVersion()[1])
print("NVRTC version:", nvrtc.nvrtcVersion()[1:])
try:
    import torch
    print("PyTorch", torch.__version__, "CUDA", torch.version.cuda,
          "cuDNN", torch.backends.cudnn.version())
except ImportError:
    print("no PyTorch")
PY
    echo "OpenCL ICDs: $(ls /etc/OpenCL/vendors 2>/dev/null | tr '\n' ' ')"
    ldconfig -p | grep -i -E 'libnvidia-opencl|libOpenCL' || echo "no OpenCL libraries"
    python3 -m boda.cli devices
    ;;
test)
    python3 -m pytest -q -x tests/test_cuda.py tests/test_kernel_compile.py tests/test_devices.py \
        2>&1 | tee "$RESULTS/test-cuda.log"
    ;;
tune)
    python3 -m boda.cli tune --model "$(model_file "$2" "$3")" --device cuda:0 \
        --budget "${4:-240}" --db "$RESULTS/tuning.sqlite" --quiet
    ;;
bench)
    python3 -m boda.cli bench --model "$(model_file "$2" "$3")" --device cuda:0 \
        --against cudnn,onnxruntime --repeat 100 --db "$RESULTS/tuning.sqlite" --out "$RESULTS"
    ;;
*)
    echo "unknown step $step" >&2; exit 2 ;;
esac
