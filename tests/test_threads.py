"""The side-by-side GEMM: the same product as NumPy's, over the helper threads."""
import multiprocessing
import os

import numpy as np
import pytest

from tinyrnn import threads


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_side_by_side_equals_one_product(transpose_a, dtype, monkeypatch):
    monkeypatch.setattr(threads, "SPLIT_MIN_MACS_PER_PART", 1)  # split even a small product
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 37) if not transpose_a else (37, 64)).astype(dtype)
    a = a.T if transpose_a else a
    b = rng.standard_normal((37, 19)).astype(dtype)
    with threads.blas_threads(1):
        out = threads.matmul_side_by_side(a, b)
    assert out.dtype == dtype and out.shape == (64, 19)
    # float32: the parts may round differently from one call (values here are O(10))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, a @ b, rtol=tol, atol=tol)


def test_one_inner_feature_and_tiny_products_take_one_call():
    a, b = np.ones((1000, 1)), np.full((1, 32), 2.0)
    np.testing.assert_array_equal(threads.matmul_side_by_side(a, b), np.full((1000, 32), 2.0))


def _product_in_child(queue):
    a = np.ones((256, 64))
    queue.put(float(threads.matmul_side_by_side(a, a.T).sum()))


@pytest.mark.skipif(not hasattr(os, "fork") or (os.cpu_count() or 1) < 2,
                    reason="needs fork and two cores for a helper thread")
def test_a_forked_child_gets_its_own_helpers(monkeypatch):
    monkeypatch.setattr(threads, "SPLIT_MIN_MACS_PER_PART", 1)
    a = np.ones((256, 64))
    threads.matmul_side_by_side(a, a.T)  # the parent's pool exists before the fork
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_product_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0, "the child hung or failed on the inherited pool"
    assert queue.get(timeout=5) == 256 * 256 * 64
