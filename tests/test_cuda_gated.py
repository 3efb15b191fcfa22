"""The GRU and LSTM CUDA kernels (gated_time_loop.cu, cuda_gated.py), verified as the Elman
ones are (test_cuda_kernel.py): nvcc builds them (the compile test there globs kernels/*.cu);
here the host emulation (each CUDA thread a std::thread, the real grid barrier) against each
cell's NumPy kernel, in float64 (1e-10) and float32 (1e-5): several blocks, blocks owning
several slices, several rounds per block, single-block plans, truncation, lengths, the GRU with
and without b_hn; the step kernels of the cuBLAS fallback; bitwise repeatability; and, where a
GPU and CuPy are present, the kernels on the device.
"""
import ctypes
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinyrnn as tr
from tinyrnn.kernels.cells import CELLS, kernel
from tinyrnn.kernels import cuda_plan
from tinyrnn.kernels.cuda_plan import layout, plan_persistent

from .helpers import make_layer, run, random_lengths
from .test_cuda_kernel import (_has_gpu, _ints, _ptr, _rel,
                               assert_race_free_under_thread_sanitizer, build_emulation)

GATED = ("gru", "lstm")


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    return build_emulation(tmp_path_factory, "emulate_gated.cpp")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_the_gated_source_the_loader_compiles_builds(tmp_path):
    """What NVRTC gets: gated_time_loop.cu with cuda_common.cuh inlined (the compile test of
    test_cuda_kernel.py builds the file itself for sm_80 and sm_90)."""
    from tinyrnn.kernels.cuda_gated import SOURCE
    from tinyrnn.kernels.cuda_kernel import kernel_source
    src = tmp_path / "gated.cu"
    src.write_text(kernel_source(SOURCE))
    assert '#include "' not in src.read_text() and "tr_owned_matvec_rows" in src.read_text()
    done = subprocess.run(["nvcc", "-arch=sm_90", "-std=c++17", "-cubin", "-Werror",
                           "all-warnings", "-o", str(tmp_path / "gated.cubin"), str(src)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _lengths(lengths, T, B):
    return np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64)


class EmulatedGated:
    """A gated cell's kernel contract run by the emulated CUDA kernels.

    Launch as in test_cuda_kernel.Emulated: ``single`` is one block holding every unit;
    otherwise ``multiprocessors`` slices, ``grid`` blocks (fewer: several slices per block),
    ``block`` threads (few: several rounds per step).
    """

    def __init__(self, lib, cell, multiprocessors=3, block=None, grid=None, single=False):
        self.lib, self.cell = lib, CELLS[cell]
        self.sms, self.block, self.grid, self.single = multiprocessors, block, grid, single

    def _plan(self, B, H, dtype, gates, length):
        rows = H if self.single else -(-H // self.sms)
        grid = 1 if self.single else self.grid or -(-H // rows)
        block = self.block or 64
        stride, smem = layout(B, H, rows, block, np.dtype(dtype).itemsize, grid, gates, length)
        return [ctypes.c_uint(grid), ctypes.c_uint(block), ctypes.c_size_t(smem)], rows, stride

    def _fn(self, kind, dtype):
        suffix = "f32" if dtype == np.float32 else "f64"
        return getattr(self.lib, f"emu_{self.cell.name}_{kind}_{suffix}")

    def forward(self, xw, w, state0, lengths=None, b_hn=None):
        T, B, GH = xw.shape
        H, G, S = GH // self.cell.gates, self.cell.gates, self.cell.states
        launch, rows, stride = self._plan(B, H, xw.dtype, G, H)
        ys, saved = np.empty((S, T, B, H), xw.dtype), np.empty((T, B, 4 * H), xw.dtype)
        # Every array passed is held by a name: a pointer to a temporary would dangle.
        bar, lengths = np.zeros(3, np.uint32), _lengths(lengths, T, B)
        b_hn = np.zeros(H, xw.dtype) if b_hn is None else b_hn
        state, c = np.empty((2, B, H), xw.dtype), np.empty((B, H), xw.dtype)
        overflow = self._fn("forward_persistent", xw.dtype)(
            *launch, _ptr(xw), _ptr(w), _ptr(state0), _ptr(lengths), _ptr(b_hn),
            *_ints(T, B, H, rows, stride), _ptr(ys), _ptr(saved), _ptr(state), _ptr(c), _ptr(bar))
        assert overflow == 0 and bar[2] == 0, "the kernel's shared-memory layout overflowed"
        return ys, saved

    def backward(self, g_ys, ys, saved, state0, w, truncate=None, lengths=None):
        S, T, B, H = ys.shape
        G = self.cell.gates
        launch, rows, stride = self._plan(B, H, ys.dtype, 1, G * H)
        d_xw = np.empty((T, B, G * H), ys.dtype)
        d_hw = d_xw if self.cell.name == "lstm" else np.empty_like(d_xw)
        d_state0, bar = np.empty_like(state0), np.zeros(3, np.uint32)
        lengths, aux = _lengths(lengths, T, B), np.empty((B, H), ys.dtype)
        overflow = self._fn("backward_persistent", ys.dtype)(
            *launch, _ptr(g_ys), _ptr(ys), _ptr(saved), _ptr(state0), _ptr(w), _ptr(lengths),
            *_ints(T, B, H, truncate or 0, rows, stride), _ptr(d_xw), _ptr(d_hw), _ptr(d_state0),
            _ptr(aux), _ptr(bar))
        assert overflow == 0 and bar[2] == 0, "the kernel's shared-memory layout overflowed"
        return d_xw, d_hw, d_state0

    # The fallback: the host does each step's GEMM (cuBLAS on the device), the step kernels
    # the rest, in the order cuda_gated.py runs them.
    def forward_steps(self, xw, w, state0, lengths=None, b_hn=None):
        T, B, GH = xw.shape
        H, S = GH // self.cell.gates, self.cell.states
        lengths = _lengths(lengths, T, B)
        b_hn = np.zeros(H, xw.dtype) if b_hn is None else b_hn
        ys, saved = np.empty((S, T, B, H), xw.dtype), np.empty((T, B, 4 * H), xw.dtype)
        h, c = state0[0].copy(), state0[-1].copy()
        for t in range(T):
            gates = np.ascontiguousarray(h @ w.T)
            assert self._fn("step_forward", xw.dtype)(
                ctypes.c_uint(2), ctypes.c_uint(8), ctypes.c_size_t(0), _ptr(gates), _ptr(xw),
                _ptr(lengths), _ptr(b_hn), *_ints(t, T, B, H), _ptr(h), _ptr(c), _ptr(ys),
                _ptr(saved)) == 0
        return ys, saved

    def backward_steps(self, g_ys, ys, saved, state0, w, truncate=None, lengths=None):
        S, T, B, H = ys.shape
        G = self.cell.gates
        lengths = _lengths(lengths, T, B)
        d_xw = np.empty((T, B, G * H), ys.dtype)
        d_hw = d_xw if self.cell.name == "lstm" else np.empty_like(d_xw)
        p, aux = np.zeros((B, H), ys.dtype), np.zeros((B, H), ys.dtype)
        for t in range(T - 1, -1, -1):
            cut = t == T - 1 or bool(truncate) and (t + 1) % truncate == 0
            assert self._fn("step_backward", ys.dtype)(
                ctypes.c_uint(2), ctypes.c_uint(8), ctypes.c_size_t(0), _ptr(p),
                ctypes.c_int(int(cut)), _ptr(g_ys), _ptr(ys), _ptr(saved), _ptr(state0),
                _ptr(lengths), *_ints(t, T, B, H), _ptr(d_xw), _ptr(d_hw), _ptr(aux)) == 0
            p = np.ascontiguousarray(d_hw[t] @ w)
        if self.cell.name == "lstm":
            return d_xw, d_hw, np.stack([p, aux])
        return d_xw, d_hw, (aux + p)[None]


def gated_case(rng, cell, T, B, H, dtype, bias=True):
    c = CELLS[cell]
    xw = rng.standard_normal((T, B, c.gates * H)).astype(dtype)
    w = (rng.standard_normal((c.gates * H, H)) / np.sqrt(H)).astype(dtype)
    state0 = rng.standard_normal((c.states, B, H)).astype(dtype)
    g_ys = rng.standard_normal((c.states, T, B, H)).astype(dtype)
    b_hn = rng.standard_normal(H).astype(dtype) if cell == "gru" and bias else None
    return xw, w, state0, g_ys, b_hn


def _options(b_hn):
    return {} if b_hn is None else {"b_hn": b_hn}


def check_against_reference(k, cell, T, B, H, dtype, truncate, lengths_on, seed, bias=True,
                            steps=False):
    """k's forward and backward (persistent, or the step kernels) against the NumPy kernel."""
    rng = np.random.default_rng(seed)
    xw, w, state0, g_ys, b_hn = gated_case(rng, cell, T, B, H, dtype, bias)
    lengths = random_lengths(rng, T, B) if lengths_on else None
    ref = kernel(cell, "numpy")
    opts = _options(b_hn)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    ys_ref, saved_ref = ref.forward(xw, w, state0, lengths, **opts)
    forward = k.forward_steps if steps else k.forward
    ys, saved = forward(xw, w, state0, lengths, **({} if cell == "lstm" else {"b_hn": b_hn}))
    assert _rel(ys, ys_ref) <= tol and _rel(saved, saved_ref) <= tol
    backward = k.backward_steps if steps else k.backward
    ours = backward(g_ys, ys_ref, saved_ref, state0, w, truncate, lengths)
    theirs = ref.backward(g_ys, ys_ref, saved_ref, state0, w, truncate, lengths, **opts)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and _rel(a, b) <= tol


gated_cases = st.fixed_dictionaries({
    "cell": st.sampled_from(GATED),
    "T": st.integers(1, 5), "B": st.integers(1, 3), "H": st.integers(1, 7),
    "dtype": st.sampled_from([np.float64, np.float32]),
    "truncate": st.one_of(st.none(), st.integers(1, 3)), "lengths": st.booleans(),
    "bias": st.booleans(), "sms": st.integers(1, 4), "grid": st.sampled_from([None, 1, 2]),
    "single": st.booleans(), "block": st.sampled_from([None, 8, 32]),
    "seed": st.integers(0, 2**31 - 1),
})


@settings(max_examples=25, deadline=None)
@given(c=gated_cases)
def test_emulated_gated_persistent_kernels_equal_the_reference(emu, c):
    # sms sets the slices (several blocks); grid < slices makes blocks own several slices;
    # 8 threads are fewer than most cases' dot products (several rounds per step).
    k = EmulatedGated(emu, c["cell"], multiprocessors=c["sms"], grid=c["grid"],
                      block=c["block"], single=c["single"])
    check_against_reference(k, c["cell"], c["T"], c["B"], c["H"], c["dtype"], c["truncate"],
                            c["lengths"], c["seed"], c["bias"])


@settings(max_examples=15, deadline=None)
@given(c=gated_cases)
def test_emulated_gated_step_kernels_equal_the_reference(emu, c):
    check_against_reference(EmulatedGated(emu, c["cell"]), c["cell"], c["T"], c["B"], c["H"],
                            c["dtype"], c["truncate"], c["lengths"], c["seed"], c["bias"],
                            steps=True)


@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("T,B,H,block,single,sms,grid,dtype", [
    (3, 2, 20, 1024, True, 1, None, np.float32),  # one block of 1024 threads, as on the device
    (2, 3, 10, 256, False, 2, None, np.float64),  # two blocks, the grid barrier
    (4, 3, 24, 32, True, 1, None, np.float64),    # 72 dot products on 32 threads: 3 rounds
    (5, 4, 15, 16, False, 5, 2, np.float32),      # 5 slices on 2 blocks, several rounds each
])
def test_emulated_gated_launch_shapes(emu, cell, T, B, H, block, single, sms, grid, dtype):
    k = EmulatedGated(emu, cell, multiprocessors=sms, block=block, grid=grid, single=single)
    check_against_reference(k, cell, T, B, H, dtype, 2, True, T * B * H)


@pytest.mark.parametrize("cell", GATED)
def test_emulated_gated_grid_barrier_over_many_steps(emu, cell):
    """6 blocks meeting at 120 steps: a barrier that let a block run ahead would mix steps."""
    k = EmulatedGated(emu, cell, multiprocessors=6, block=8)
    check_against_reference(k, cell, 120, 2, 12, np.float64, None, False, 5)


def test_emulated_gated_kernels_are_race_free_under_thread_sanitizer(tmp_path):
    """ThreadSanitizer over six blocks and 12 steps of both cells, forward and backward."""
    assert_race_free_under_thread_sanitizer("race_check_gated.cpp", tmp_path)


@pytest.mark.parametrize("cell", GATED)
def test_emulated_gated_kernels_are_bitwise_repeatable(emu, cell):
    rng = np.random.default_rng(0)
    xw, w, state0, g_ys, b_hn = gated_case(rng, cell, 5, 3, 16, np.float32)
    k = EmulatedGated(emu, cell, multiprocessors=4, block=32)
    opts = _options(b_hn)
    a, b = (k.forward(xw, w, state0, None, **opts) for _ in range(2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    da, db = (k.backward(g_ys, *a, state0, w, 2, None) for _ in range(2))
    assert all(np.array_equal(x, y) for x, y in zip(da, db))


@pytest.mark.parametrize("cell", GATED)
def test_emulated_gated_kernel_refuses_a_launch_its_shared_memory_cannot_hold(emu, cell):
    """Sized for 4 blocks, launched on 2 (as a shrunk cooperative grid): flagged, no write."""
    G, T, B, H = CELLS[cell].gates, 3, 2, 12
    rng = np.random.default_rng(6)
    xw, w, state0, _, b_hn = gated_case(rng, cell, T, B, H, np.float32)
    _, smem = layout(B, H, 3, 16, 4, 4, G, H)
    stride = layout(B, H, 3, 16, 4, 2, G, H)[0]
    ys, bar = np.zeros((CELLS[cell].states, T, B, H), np.float32), np.zeros(3, np.uint32)
    lengths, b_hn, saved = np.full(B, T, np.int64), np.zeros(H, np.float32), \
        np.zeros((T, B, 4 * H), np.float32)
    state, c = np.empty((2, B, H), np.float32), np.empty((B, H), np.float32)
    overflow = getattr(emu, f"emu_{cell}_forward_persistent_f32")(
        ctypes.c_uint(2), ctypes.c_uint(16), ctypes.c_size_t(smem), _ptr(xw), _ptr(w),
        _ptr(state0), _ptr(lengths), _ptr(b_hn), *_ints(T, B, H, 3, stride), _ptr(ys),
        _ptr(saved), _ptr(state), _ptr(c), _ptr(bar))
    assert overflow == 0 and bar[2] == 1 and not ys.any()


# --------------------------------------------------------------------------- launch plans

@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("B,H", [(1, 32), (4, 512), (16, 1024)])
def test_gated_plans_at_the_target_shapes_on_an_h200(cell, B, H):
    """The shapes of the targets against cuDNN (float32) get persistent plans for both passes
    on an H200-class device (132 SMs, 227 KB of shared memory per block), and the cost model
    prefers them to cuBLAS per step; the shared memory is exactly the kernel's layout."""
    G = CELLS[cell].gates
    for gates, length in [(G, H), (1, G * H)]:  # forward: G rows of W_hh; backward: W_hh^T
        p = plan_persistent(B, H, 4, 132, 227 * 1024, gates=gates, length=length)
        assert p is not None and p.grid <= 132 and p.rows * p.grid >= H
        assert p.stride >= length
        owned = -(-(-(-H // p.rows)) // p.grid)
        assert p.shared_bytes == gates * (owned * p.rows * p.stride + p.block) * 4
        assert cuda_plan.persistent_wins(B, H, 4, p, 132, gates, length)
    assert plan_persistent(16, 1760, 4, 132, 227 * 1024, gates=G, length=1760) is None


# --------------------------------------------------------------------------- loader, off GPU
#
# cuda_gated.py (plans per pass, argument marshalling, the fallback loop, the choice of path)
# on test_cuda_kernel's stand-in CuPy: NumPy arrays, kernels under the emulation, every launch
# checked against the kernel's C signature. Its small device (4 SMs, 20 KB of shared memory)
# gives one-block plans, several-block plans, and shapes with no plan at all.

GATED_SIGNATURES = {"forward_persistent": "FFFLFiiiiiFFFFU",
                    "backward_persistent": "FFFFFLiiiiiiFFFFU",
                    "step_forward": "FFLFiiiiFFFF", "step_backward": "FiFFFFLiiiiFFF"}


@pytest.fixture
def fake_gpu(emu, monkeypatch):
    from tinyrnn.kernels import cuda_gated as cg, cuda_kernel as ck
    from . import test_cuda_kernel as tk
    cp = tk._fake_cupy(emu)
    monkeypatch.setitem(sys.modules, "cupy", cp)
    for cell in GATED:
        for kind, sig in GATED_SIGNATURES.items():
            monkeypatch.setitem(tk.SIGNATURES, f"{cell}_{kind}", sig)
    caches = [ck._module, ck._kernel, ck._device_limits, ck._plan, ck._full_lengths,
              cg._fastest, cg.time_paths]
    for _ in range(2):
        for f in caches:
            f.cache_clear()
        ck._CHECKED.clear()
        if _ == 0:
            yield cp


@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("path", [None, "persistent", "cublas"])
def test_loader_on_a_fake_device_equals_the_reference(fake_gpu, cell, dtype, path):
    from tinyrnn.kernels import cuda_gated as cg
    rng = np.random.default_rng(11)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    ref, cuda = kernel(cell, "numpy"), kernel(cell, "cuda")
    # H=4: one block; H=28: several blocks (20 KB cannot hold the 3 or 4 rows of W_hh of 28
    # units and 1024 threads' partial sums).
    for T, B, H, truncate in [(5, 2, 4, None), (4, 3, 28, 2)]:
        xw, w, state0, g_ys, b_hn = gated_case(rng, cell, T, B, H, dtype)
        lengths = random_lengths(rng, T, B)
        opts = _options(b_hn)
        ys_ref, saved_ref = ref.forward(xw, w, state0, lengths, **opts)
        theirs = ref.backward(g_ys, ys_ref, saved_ref, state0, w, truncate, lengths, **opts)
        if path is None:  # the layers' route: the registry's module, the path chosen
            ys, saved = cuda.forward(xw, w, state0, lengths, **opts)
            ours = cuda.backward(g_ys, ys_ref, saved_ref, state0, w, truncate, lengths, **opts)
        else:
            ys, saved = cg.run_forward(cell, xw, w, state0, lengths, b_hn, path=path)
            ours = cg.run_backward(cell, g_ys, ys_ref, saved_ref, state0, w, truncate, lengths,
                                   path=path)
        assert _rel(ys, ys_ref) <= tol and _rel(saved, saved_ref) <= tol
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape and _rel(a, b) <= tol
        assert (ours[1] is ours[0]) == (cell == "lstm")
    grids = {grid for _, grid, _, _ in fake_gpu.fake_device.cooperative}
    if path == "persistent":
        assert 1 in grids and max(grids) > 1  # one-block and several-block plans both ran
    if path == "cublas":
        assert not grids


@pytest.mark.parametrize("choice", ["time", "model"])
def test_gated_path_choice_is_made_once_per_shape(fake_gpu, monkeypatch, choice):
    from tinyrnn.kernels import cuda_gated as cg, cuda_kernel as ck
    monkeypatch.setattr(ck, "CHOICE", choice)
    timed = []
    real = cg.time_paths.__wrapped__
    monkeypatch.setattr(cg, "time_paths", lambda *a: timed.append(a) or real(*a))
    rng = np.random.default_rng(9)
    xw, w, state0, _, _ = gated_case(rng, "lstm", 3, 2, 4, np.float32)
    for _ in range(3):
        kernel("lstm", "cuda").forward(xw, w, state0)
    assert len(timed) == (1 if choice == "time" else 0)
    if choice == "model":  # a tiny step: one block beats cuBLAS plus two launches per step
        assert fake_gpu.fake_device.cooperative


def test_gated_plans_differ_per_pass_and_fall_back_when_nothing_fits(fake_gpu):
    from tinyrnn.kernels import cuda_gated as cg
    fwd, bwd = cg.plan("lstm", "forward", 2, 12, np.float64), \
        cg.plan("lstm", "backward", 2, 12, np.float64)
    assert fwd is not None and bwd is not None
    assert fwd.stride >= 12 and bwd.stride >= 48  # G rows of H; one row of G*H
    assert cg.plan("lstm", "forward", 2, 200, np.float64) is None  # 20 KB: no plan
    with pytest.raises(ValueError, match="no persistent"):
        cg.run_forward("lstm", np.zeros((1, 2, 800)), np.zeros((800, 200)),
                       np.zeros((2, 2, 200)), path="persistent")
    rng = np.random.default_rng(3)
    xw, w, state0, _, _ = gated_case(rng, "lstm", 2, 2, 200, np.float64)
    ys, _ = kernel("lstm", "cuda").forward(xw, w, state0)  # chosen: cuBLAS steps
    assert _rel(ys, kernel("lstm", "numpy").forward(xw, w, state0)[0]) <= 1e-10


# --------------------------------------------------------------------------- on a GPU

needs_gpu = pytest.mark.skipif(not _has_gpu(), reason="no CUDA device (or no CuPy)")


@needs_gpu
@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("path", ["persistent", "cublas"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gpu_gated_kernels_equal_the_reference(cell, path, dtype):
    import cupy as cp
    from tinyrnn.kernels import cuda_gated as cg
    rng = np.random.default_rng(1)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    ref = kernel(cell, "numpy")
    # One block (H=5, 33), many blocks (512), several rounds per block (B=300), float32's
    # (4, 1024) near the shared-memory limit; truncation and lengths throughout.
    for T, B, H, truncate, use_lengths in [(7, 3, 5, None, True), (20, 4, 64, 6, True),
                                           (3, 2, 33, 1, True), (9, 4, 512, 4, False),
                                           (4, 300, 512, 2, True), (5, 4, 1024, None, True)]:
        if path == "persistent" and cg.plan(cell, "forward", B, H, dtype) is None:
            continue  # does not fit on this device: the cuBLAS path covers it
        xw, w, state0, g_ys, b_hn = gated_case(rng, cell, T, B, H, dtype)
        lengths = random_lengths(rng, T, B) if use_lengths else None
        opts = _options(b_hn)
        ys_ref, saved_ref = ref.forward(xw, w, state0, lengths, **opts)
        theirs = ref.backward(g_ys, ys_ref, saved_ref, state0, w, truncate, lengths, **opts)
        d = [cp.asarray(a) for a in (xw, w, state0, g_ys, ys_ref, saved_ref)]
        dl = None if lengths is None else cp.asarray(lengths)
        ys, saved = cg.run_forward(cell, d[0], d[1], d[2], dl,
                                   None if b_hn is None else cp.asarray(b_hn), path=path)
        assert _rel(ys.get(), ys_ref) <= tol and _rel(saved.get(), saved_ref) <= tol
        backward_path = path if cg.plan(cell, "backward", B, H, dtype) else "cublas"
        ours = cg.run_backward(cell, d[3], d[4], d[5], d[2], d[1], truncate, dl,
                               path=backward_path)
        for a, b in zip(ours, theirs):
            assert _rel(a.get(), b) <= tol


@needs_gpu
@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("path", ["persistent", "cublas"])
def test_gpu_gated_results_are_bitwise_repeatable(cell, path):
    import cupy as cp
    from tinyrnn.kernels import cuda_gated as cg
    rng = np.random.default_rng(2)
    xw, w, state0, g_ys, b_hn = (None if a is None else cp.asarray(a)
                                 for a in gated_case(rng, cell, 50, 4, 256, np.float32))
    a, b = (cg.run_forward(cell, xw, w, state0, None, b_hn, path=path) for _ in range(2))
    assert all(bool((x == y).all()) for x, y in zip(a, b))
    da, db = (cg.run_backward(cell, g_ys, *a, state0, w, 8, None, path=path) for _ in range(2))
    assert all(bool((x == y).all()) for x, y in zip(da, db))


@needs_gpu
@pytest.mark.parametrize("cell", GATED)
def test_gpu_gated_layers_match_torch_cudnn(cell):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    rng = np.random.default_rng(4)
    layer = make_layer(rng, cell, 6, 32, 2, True)
    twin = getattr(torch.nn, cell.upper())(6, 32, num_layers=2, bidirectional=True).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    x = rng.standard_normal((9, 3, 6))
    with tr.use_kernel("cuda"):
        out, finals = run(layer.to("cuda"), tr.tensor(x).to("cuda"))
    t_out, t_finals = twin.cuda()(torch.from_numpy(x).cuda())
    t_finals = list(t_finals) if isinstance(t_finals, tuple) else [t_finals]
    assert _rel(out.numpy(), t_out.detach().cpu().numpy()) <= 1e-8
    for a, b in zip(finals, t_finals):
        assert _rel(a.numpy(), b.detach().cpu().numpy()) <= 1e-8


@needs_gpu
@pytest.mark.parametrize("cell", GATED)
def test_gpu_gated_gradcheck_and_a_training_step(cell):
    rng = np.random.default_rng(3)
    layer = make_layer(rng, cell, 2, 3, 2, True).to("cuda")
    x = tr.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True).to("cuda")
    with tr.use_kernel("cuda"):
        assert tr.gradcheck(lambda x, *p: run(layer, x, lengths=[4, 2])[0],
                            [x, *layer.parameters()])
        assert tr.gradcheck(lambda x, *p: layer(x, truncate=2)[0], [x, *layer.parameters()])
    tr.manual_seed(0)
    net = getattr(tr.nn, cell.upper())(3, 8, num_layers=2).to("cuda")
    head = tr.nn.Linear(8, 1).to("cuda")
    opt = tr.optim.Adam(net.parameters() + head.parameters(), lr=1e-2)
    xs = tr.tensor(rng.standard_normal((10, 5, 3)).astype(np.float32)).to("cuda")
    target = tr.tensor(np.ones((5, 1), np.float32)).to("cuda")
    before = net.state_dict()
    out, _ = net(xs)  # "auto" picks the CUDA kernel for CuPy arrays
    loss = tr.nn.functional.mse_loss(head(out[-1]), target)
    loss.backward()
    opt.step()
    after = net.state_dict()
    assert np.isfinite(loss.item())
    assert all(not np.array_equal(before[k], after[k]) for k in before)
