#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU, CuPy, PyTorch, Numba, pytest and hypothesis
# and no network: installs the project, runs the GPU tests and the GPU benchmark, and writes
# logs and result files to $OUT (or to the folder given as the first argument). Under 8 minutes.
#
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh      or      bash benchmarks/gpu_check.sh DIR
set -uo pipefail
out="${1:-${OUT:-gpu-check}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1

python3 -m pip install --no-deps --no-build-isolation -e . >"$out/install.log" 2>&1 \
    || { tail -20 "$out/install.log"; exit 1; }
{ nvidia-smi; python3 -c "import cupy, torch; print('cupy', cupy.__version__, 'torch',
torch.__version__, 'cuda', torch.version.cuda)"; } >"$out/device.txt" 2>&1

# GPU tests: the CUDA kernel on the device (parity, determinism, gradcheck, a training step)
# and PyTorch parity; then every kernel's gradient checks.
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_cuda_kernel.py \
    tests/test_torch_parity.py 2>&1 | tee "$out/gpu-tests.log"
tests_rc=${PIPESTATUS[0]}
timeout 60 python3 -m tinyrnn gradcheck --examples 10 2>&1 | tee -a "$out/gpu-tests.log"

# The GPU benchmark: tinyrnn-cuda, cupy-loop, torch-cudnn and tinyrnn-numba on the host.
timeout 300 python3 benchmarks/run.py --suite gpu --out "$out" 2>&1 | tee "$out/gpu-bench.log"
bench_rc=${PIPESTATUS[0]}
echo "tests exit $tests_rc, benchmark exit $bench_rc" | tee -a "$out/gpu-bench.log"
exit $(( tests_rc != 0 || bench_rc != 0 ))
