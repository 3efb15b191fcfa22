"""Hypothesis profiles: `dev` (fast, random) and `ci` (derandomized, no deadline), the latter
loaded when the CI environment variable is set."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE",
                                     "ci" if os.environ.get("CI") else "dev"))

# Tests compile what they call, here and now: which kernel ran must not depend on how far a
# background compilation had got (tests/test_jit.py tests the background mode itself).
os.environ.setdefault("TINYRNN_JIT", "foreground")


@pytest.fixture(autouse=True)
def _reset_kernel():
    import tinyrnn as tr
    with tr.use_kernel("auto"):
        yield


def rel_close(a, b, rtol):
    """Relative closeness guarded against zero: |a - b| <= rtol * max(|b|max, tiny)."""
    a, b = np.asarray(a), np.asarray(b)
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-12)
    return a.shape == b.shape and float(np.max(np.abs(a - b), initial=0.0)) <= rtol * scale
