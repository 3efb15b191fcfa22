"""``tinyrnn.malloc``: freed arrays stay with the process (no page faults to get them back),
unless the environment tunes malloc itself or opts out."""
import os
import subprocess
import sys

import pytest

from tinyrnn import malloc


@pytest.mark.parametrize("env, retains", [
    ({}, True),
    ({"TINYRNN_RETAIN_FREED_MEMORY": "0"}, False),
    ({"TINYRNN_RETAIN_FREED_MEMORY": "1"}, True),
    ({"MALLOC_TRIM_THRESHOLD_": "65536"}, False),
    ({"MALLOC_ARENA_MAX": "2"}, False),
    ({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1000000"}, False),
    ({"GLIBC_TUNABLES": "glibc.rtld.optional_static_tls=1000"}, True),
])
def test_retains_by_default_unless_the_environment_says_otherwise(monkeypatch, env, retains):
    for name in ("TINYRNN_RETAIN_FREED_MEMORY", "GLIBC_TUNABLES", *malloc._USER_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    calls = []
    monkeypatch.setattr(malloc, "retain_freed_memory", lambda: calls.append(1) or True)
    assert malloc.retain_by_default() is retains
    assert calls == ([1] if retains else [])


# Two arrays of 375 KiB each, made, written and freed again and again: the pattern of a
# layer's temporaries, which glibc's default thresholds serve with fresh pages every time.
_PATTERN = """
import resource, numpy as np, tinyrnn
def step():
    a = np.ones(96000, np.float32); b = np.ones(96000, np.float32); del a, b
for _ in range(10):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 200)
"""


def _faults_per_step(**env):
    done = subprocess.run([sys.executable, "-c", _PATTERN], capture_output=True, text=True,
                          check=True, env={**os.environ, **env})
    return float(done.stdout.strip())


@pytest.mark.skipif(not malloc._glibc(), reason="tunes glibc's malloc only")
def test_freed_arrays_come_back_without_page_faults():
    assert malloc.retain_freed_memory()
    assert _faults_per_step() < 1
    # The same pattern with malloc left alone, for contrast: the pages are faulted in again.
    assert _faults_per_step(TINYRNN_RETAIN_FREED_MEMORY="0") > 50
