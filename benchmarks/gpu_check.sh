#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU, CuPy, PyTorch, Numba, pytest and hypothesis
# and no network. It runs in stages; each stage writes its log (and results) to $OUT as soon as
# it ends, so a run cut short still returns what it measured:
#
#   install      pip install -e . offline (PEP 660, see pyproject.toml); import checks
#   device       nvidia-smi, CuPy/PyTorch versions, the device's limits
#   smoke        one small forward+backward per launch plan, float32 and float64, against
#                the NumPy reference (benchmarks/gpu_smoke.py); a failure stops the run here,
#                but a failure of the CUDA-graph loop alone only turns graphs off
#   tests        the GPU tests of tests/test_cuda_kernel.py and tests/test_cuda_gated.py (-k gpu)
#   gradcheck    python -m tinyrnn gradcheck --kernels cuda (every cell)
#   bench-quick  benchmarks/run.py --suite gpu --quick
#   bench-full   benchmarks/run.py --suite gpu --repeat 3 (the log keeps each row as timed)
#
# The timeouts add up to 385 s, 420 s with each stage's 5 s to die after its timeout (CuPy's
# first compiles included; `timeout` signals the stage's whole process group). The exit code
# is non-zero if any stage failed, and the last line sums up every stage.
#
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh     bash benchmarks/gpu_check.sh DIR
#   bash benchmarks/gpu_check.sh --install-only   (install and import, then exit)
set -uo pipefail
install_only=0
if [[ "${1:-}" == "--install-only" ]]; then install_only=1; shift; fi
out="${1:-${OUT:-gpu-check}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
export py="${PYTHON:-python3}"
summary=()
failed=0

# stage NAME SECONDS COMMAND...: run COMMAND under a timeout, its output to $out/NAME.log (and
# to the terminal), and record its status.
stage() {
    local name="$1" limit="$2" rc start
    shift 2
    start=$SECONDS
    echo "=== $name (limit ${limit}s)"
    timeout --kill-after=5 "$limit" "$@" 2>&1 | tee "$out/$name.log"
    rc=${PIPESTATUS[0]}
    local status="ok"
    if ((rc == 124 || rc == 137)); then
        status="TIMEOUT"
    elif ((rc != 0)); then
        status="FAIL($rc)"
    fi
    ((rc != 0)) && failed=1
    summary+=("$name=$status")
    echo "$name: $status in $((SECONDS - start)) s" | tee -a "$out/stages.txt"
    return "$rc"
}

finish() {
    echo "gpu_check: ${summary[*]}" | tee -a "$out/stages.txt"
    exit "$failed"
}

# The install the GPU image can do: no index, no build isolation, no dependencies (all present).
install() {
    "$py" -m pip --version &&
        "$py" -c "import setuptools; print('setuptools', setuptools.__version__)" &&
        PIP_NO_INDEX=1 "$py" -m pip install --no-deps --no-build-isolation -e . &&
        "$py" -c "import tinyrnn, tinyrnn.kernels.cuda_kernel as k
print('imported', tinyrnn.__file__, k.__file__)"
}
export -f install
stage install 50 bash -c install || finish
((install_only)) && finish

device() {
    nvidia-smi
    "$py" - <<'EOF'
import cupy, torch
print("cupy", cupy.__version__, "torch", torch.__version__, "cuda", torch.version.cuda)
p = cupy.cuda.runtime.getDeviceProperties(0)
print(p["name"].decode(), "sm_%d%d" % (p["major"], p["minor"]),
      "SMs", p["multiProcessorCount"], "shared/block opt-in", p.get("sharedMemPerBlockOptin"),
      "cooperative", p.get("cooperativeLaunch"))
EOF
}
export -f device
stage device 15 bash -c device
stage smoke 40 "$py" benchmarks/gpu_smoke.py --out "$out"
case $? in
    0) ;;
    3) export TINYRNN_CUDA_GRAPHS=0; echo "CUDA graphs failed the smoke test: off from here on" ;;
    *) finish ;;  # a kernel plan is wrong: the tests and benchmarks would only repeat that
esac
# (PyTorch parity on the CPU is CI's: no GPU seconds for it here.)
stage tests 125 "$py" -m pytest -q -p no:cacheprovider -k gpu \
    tests/test_cuda_kernel.py tests/test_cuda_gated.py
stage gradcheck 30 "$py" -m tinyrnn gradcheck --kernels cuda --examples 5
stage bench-quick 45 "$py" benchmarks/run.py --suite gpu --quick --out "$out"
stage bench-full 80 "$py" benchmarks/run.py --suite gpu --repeat 3 --out "$out"
finish
