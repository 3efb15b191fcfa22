"""The CUDA kernels, verified three ways: compiled by nvcc for sm_80 and sm_90; run under host
emulation (g++ C++20: each CUDA thread a std::thread) against the NumPy reference kernel, with
several blocks, grid-stride ownership, truncation and lengths; and, where a GPU and CuPy are
present, on the device."""
import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinyrnn as tr
import tinyrnn.kernels
from tinyrnn.kernels import numpy_kernel as ref
from tinyrnn.kernels.cuda_plan import plan_persistent, shared_bytes

from .helpers import make_rnn, random_lengths

KERNELS = Path(tinyrnn.kernels.__file__).parent
CU_FILES = sorted(KERNELS.glob("*.cu"))


def _has_gpu():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


# --------------------------------------------------------------------------- nvcc

@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_every_cu_file_compiles_with_nvcc(arch, tmp_path):
    assert CU_FILES, "no .cu files found"
    for cu in CU_FILES:
        done = subprocess.run(["nvcc", f"-arch={arch}", "-std=c++17", "-cubin", "-Werror",
                               "all-warnings", "-o", str(tmp_path / f"{cu.stem}.cubin"), str(cu)],
                              capture_output=True, text=True)
        assert done.returncode == 0, f"{cu.name} ({arch}):\n{done.stderr}"


# --------------------------------------------------------------------------- emulation

@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not installed: no host emulation")
    lib = tmp_path_factory.mktemp("emu") / "rnn_emu.so"
    done = subprocess.run([gxx, "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-o",
                           str(lib), str(KERNELS / "emulation" / "emulate.cpp")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return ctypes.CDLL(str(lib))


def _ptr(a):
    return ctypes.c_void_p(a.ctypes.data)


def _ints(*values):
    return [ctypes.c_int(int(v)) for v in values]


class Emulated:
    """The kernel contract run by the emulated CUDA kernels (persistent or step-by-step)."""

    def __init__(self, lib, multiprocessors=3, block=None, grid=None, max_shared=None):
        self.lib, self.sms, self.block, self.grid = lib, multiprocessors, block, grid
        self.max_shared = max_shared

    def _plan(self, B, H, dtype):
        # A tiny shared-memory budget forces the multi-block plan (several blocks).
        p = plan_persistent(B, H, np.dtype(dtype).itemsize, self.sms,
                            self.max_shared or shared_bytes(-(-H // self.sms), H, 1024, 8))
        block = self.block or min(p.block, 64)  # few threads: the emulation runs them all
        grid = self.grid or p.grid
        return grid, block, p.rows, shared_bytes(p.rows, H, block, np.dtype(dtype).itemsize,
                                                 grid)

    def _fn(self, name, dtype):
        return getattr(self.lib, f"emu_{name}_{'f32' if dtype == np.float32 else 'f64'}")

    def forward(self, xw, w, h0, nl, lengths):
        T, B, H = xw.shape
        lengths = np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64)
        grid, block, rows, smem = self._plan(B, H, xw.dtype)
        hs = np.empty_like(xw)
        state = np.empty((2, B, H), xw.dtype)
        bar = np.zeros(2, np.uint32)
        self._fn("rnn_forward_persistent", xw.dtype)(
            ctypes.c_uint(grid), ctypes.c_uint(block), ctypes.c_size_t(smem), _ptr(xw), _ptr(w),
            _ptr(h0), _ptr(lengths), *_ints(T, B, H, nl == "relu", rows), _ptr(hs), _ptr(state),
            _ptr(bar))
        return hs

    def backward(self, g, hs, h0, w, nl, truncate, lengths, g_hn):
        T, B, H = hs.shape
        lengths = np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64)
        grid, block, rows, smem = self._plan(B, H, hs.dtype)
        d_xw, d_h0 = np.empty_like(hs), np.empty_like(h0)
        dbuf = np.empty((2, B, H), hs.dtype)
        wt = np.ascontiguousarray(w.T)
        self._fn("rnn_backward_persistent", hs.dtype)(
            ctypes.c_uint(grid), ctypes.c_uint(block), ctypes.c_size_t(smem), _ptr(g), _ptr(hs),
            _ptr(wt), _ptr(lengths), _ptr(g_hn), *_ints(T, B, H, nl == "relu", truncate or 0,
                                                         rows),
            _ptr(d_xw), _ptr(d_h0), _ptr(dbuf), _ptr(np.zeros(2, np.uint32)))
        return d_xw, d_h0

    # The fallback: the host does the GEMM of each step, the step kernels the rest.
    def forward_steps(self, xw, w, h0, nl, lengths):
        T, B, H = xw.shape
        lengths = np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64)
        hs, h = np.empty_like(xw), h0.copy()
        for t in range(T):
            a = np.ascontiguousarray(h @ w.T)
            self._fn("rnn_step_forward", xw.dtype)(
                ctypes.c_uint(2), ctypes.c_uint(8), ctypes.c_size_t(0), _ptr(a),
                _ptr(np.ascontiguousarray(xw[t])), _ptr(lengths), *_ints(t, B, H, nl == "relu"),
                _ptr(h), _ptr(hs[t]))
        return hs

    def backward_steps(self, g, hs, h0, w, nl, truncate, lengths, g_hn):
        T, B, H = hs.shape
        lengths = np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64)
        d_xw, dh = np.empty_like(hs), np.zeros_like(h0)
        for t in range(T - 1, -1, -1):
            d_a = np.empty_like(h0)
            self._fn("rnn_step_backward", hs.dtype)(
                ctypes.c_uint(2), ctypes.c_uint(8), ctypes.c_size_t(0), _ptr(dh), _ptr(g),
                _ptr(hs), _ptr(g_hn), _ptr(lengths), *_ints(t, B, H, nl == "relu"), _ptr(d_a))
            d_xw[t] = d_a
            dh = np.zeros_like(h0) if truncate and t > 0 and t % truncate == 0 else \
                np.ascontiguousarray(d_a @ w)
        return d_xw, dh


def _case(rng, T, B, H, dtype):
    xw = rng.standard_normal((T, B, H)).astype(dtype)
    w = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    g = rng.standard_normal((T, B, H)).astype(dtype)
    g_hn = rng.standard_normal((B, H)).astype(dtype)
    return xw, w, h0, g, g_hn


def _rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


emulated_cases = st.fixed_dictionaries({
    "T": st.integers(1, 6), "B": st.integers(1, 3), "H": st.integers(1, 9),
    "dtype": st.sampled_from([np.float64, np.float32]),
    "nl": st.sampled_from(["tanh", "relu"]), "truncate": st.one_of(st.none(), st.integers(1, 4)),
    "lengths": st.booleans(), "sms": st.integers(1, 4), "grid": st.sampled_from([None, 1, 2]),
    "single_block_plan": st.booleans(),
    "seed": st.integers(0, 2**31 - 1),
})


@settings(max_examples=30)
@given(c=emulated_cases)
def test_emulated_persistent_kernels_equal_the_reference(emu, c):
    rng = np.random.default_rng(c["seed"])
    xw, w, h0, g, g_hn = _case(rng, c["T"], c["B"], c["H"], c["dtype"])
    lengths = random_lengths(rng, c["T"], c["B"]) if c["lengths"] else None
    # sms sets the slices (several blocks); grid < slices makes blocks own several slices.
    k = Emulated(emu, multiprocessors=c["sms"], grid=c["grid"],
                 max_shared=1 << 20 if c["single_block_plan"] else None)
    tol = 1e-10 if c["dtype"] == np.float64 else 1e-5
    hs = k.forward(xw, w, h0, c["nl"], lengths)
    hs_ref = ref.forward(xw, w, h0, c["nl"], lengths)
    assert _rel(hs, hs_ref) <= tol
    d_xw, d_h0 = k.backward(g, hs_ref, h0, w, c["nl"], c["truncate"], lengths, g_hn)
    r_xw, r_h0 = ref.backward(g, hs_ref, h0, w, c["nl"], c["truncate"], lengths, g_hn)
    assert _rel(d_xw, r_xw) <= tol and _rel(d_h0, r_h0) <= tol


@settings(max_examples=15)
@given(c=emulated_cases)
def test_emulated_step_kernels_equal_the_reference(emu, c):
    rng = np.random.default_rng(c["seed"])
    xw, w, h0, g, g_hn = _case(rng, c["T"], c["B"], c["H"], c["dtype"])
    lengths = random_lengths(rng, c["T"], c["B"]) if c["lengths"] else None
    k = Emulated(emu)
    tol = 1e-10 if c["dtype"] == np.float64 else 1e-5
    hs_ref = ref.forward(xw, w, h0, c["nl"], lengths)
    assert _rel(k.forward_steps(xw, w, h0, c["nl"], lengths), hs_ref) <= tol
    ours = k.backward_steps(g, hs_ref, h0, w, c["nl"], c["truncate"], lengths, g_hn)
    theirs = ref.backward(g, hs_ref, h0, w, c["nl"], c["truncate"], lengths, g_hn)
    assert _rel(ours[0], theirs[0]) <= tol and _rel(ours[1], theirs[1]) <= tol


def test_emulated_persistent_kernels_are_deterministic(emu):
    rng = np.random.default_rng(0)
    xw, w, h0, g, g_hn = _case(rng, 5, 3, 16, np.float32)
    k = Emulated(emu, multiprocessors=4, block=32)
    a, b = k.forward(xw, w, h0, "tanh", None), k.forward(xw, w, h0, "tanh", None)
    assert np.array_equal(a, b)
    da, db = (k.backward(g, a, h0, w, "tanh", 2, None, g_hn) for _ in range(2))
    assert np.array_equal(da[0], db[0]) and np.array_equal(da[1], db[1])


def test_launch_plan():
    small = plan_persistent(B=1, H=32, itemsize=4, multiprocessors=132,
                            max_shared_bytes=227 * 1024)
    assert (small.grid, small.rows) == (1, 32)  # one block: no grid barrier per step
    p = plan_persistent(B=4, H=1024, itemsize=4, multiprocessors=132,
                        max_shared_bytes=227 * 1024)
    assert p.grid <= 132 and p.rows * p.grid >= 1024 and p.shared_bytes <= 227 * 1024
    assert p.shared_bytes == (p.rows * 1024 + p.block) * 4
    assert plan_persistent(B=64, H=8192, itemsize=4, multiprocessors=132,
                           max_shared_bytes=227 * 1024) is None  # does not fit: cuBLAS steps
    assert plan_persistent(1, 1760, 8, 132, 227 * 1024).rows == 14  # 14 units per block
    assert plan_persistent(4, 512, 4, 132, 227 * 1024, blocks_per_sm=lambda b, s: 0) is None
    with pytest.raises(ValueError):
        plan_persistent(0, 8, 4, 1, 1)


# --------------------------------------------------------------------------- on a GPU

needs_gpu = pytest.mark.skipif(not _has_gpu(), reason="no CUDA device (or no CuPy)")


def test_cuda_kernel_without_a_gpu_says_so():
    if _has_gpu():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CuPy|CUDA"):
        tr.use_kernel("cuda")
    with pytest.raises(RuntimeError, match="CuPy|CUDA"):
        tr.tensor(np.ones(3)).to("cuda")
    assert "cuda" not in tr.available_kernels()


@needs_gpu
@pytest.mark.parametrize("persistent", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gpu_kernel_equals_the_reference(persistent, dtype):
    import cupy as cp
    from tinyrnn.kernels import cuda_kernel as ck
    rng = np.random.default_rng(1)
    for T, B, H, truncate, use_lengths in [(7, 3, 5, None, True), (20, 4, 64, 6, True),
                                           (9, 1, 200, 4, False), (3, 2, 33, 1, True)]:
        xw, w, h0, g, g_hn = _case(rng, T, B, H, dtype)
        lengths = random_lengths(rng, T, B) if use_lengths else None
        tol = 1e-10 if dtype == np.float64 else 1e-5
        d = [cp.asarray(a) for a in (xw, w, h0, g, g_hn)]
        dl = None if lengths is None else cp.asarray(lengths)
        hs = ck.forward(d[0], d[1], d[2], "tanh", dl, persistent=persistent)
        hs_ref = ref.forward(xw, w, h0, "tanh", lengths)
        assert _rel(hs.get(), hs_ref) <= tol
        d_xw, d_h0 = ck.backward(d[3], cp.asarray(hs_ref), d[2], d[1], "tanh", truncate, dl, d[4],
                                 persistent=persistent)
        r_xw, r_h0 = ref.backward(g, hs_ref, h0, w, "tanh", truncate, lengths, g_hn)
        assert _rel(d_xw.get(), r_xw) <= tol and _rel(d_h0.get(), r_h0) <= tol


@needs_gpu
def test_gpu_results_are_bitwise_repeatable():
    import cupy as cp
    from tinyrnn.kernels import cuda_kernel as ck
    rng = np.random.default_rng(2)
    xw, w, h0, g, g_hn = (cp.asarray(a) for a in _case(rng, 50, 4, 256, np.float32))
    a, b = ck.forward(xw, w, h0, "tanh"), ck.forward(xw, w, h0, "tanh")
    assert bool((a == b).all())
    da, db = (ck.backward(g, a, h0, w, "tanh", 8, None, g_hn) for _ in range(2))
    assert bool((da[0] == db[0]).all()) and bool((da[1] == db[1]).all())


@needs_gpu
def test_gradcheck_and_a_training_step_on_the_gpu():
    rng = np.random.default_rng(3)
    rnn = make_rnn(rng, 2, 3, 2, True).to("cuda")
    x = tr.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True).to("cuda")
    with tr.use_kernel("cuda"):
        assert tr.gradcheck(lambda x, *p: rnn(x, lengths=[4, 2]), [x, *rnn.parameters()])
    tr.manual_seed(0)
    net = tr.nn.RNN(3, 8, num_layers=2).to("cuda")
    head = tr.nn.Linear(8, 1).to("cuda")
    opt = tr.optim.Adam(net.parameters() + head.parameters(), lr=1e-2)
    xs = tr.tensor(rng.standard_normal((10, 5, 3)).astype(np.float32)).to("cuda")
    target = tr.tensor(np.ones((5, 1), np.float32)).to("cuda")
    before = net.state_dict()
    _, h_n = net(xs)  # "auto" picks the CUDA kernel for CuPy arrays
    loss = tr.nn.functional.mse_loss(head(h_n[-1]), target)
    loss.backward()
    opt.step()
    after = net.state_dict()
    assert h_n.device == "cuda" and np.isfinite(loss.item())
    assert all(not np.array_equal(before[k], after[k]) for k in before)
