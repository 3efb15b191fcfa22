"""The GPU image's install, reproduced without a GPU: `gpu_check.sh --install-only` in a fresh
venv with pip 24.0 and wheel, once with setuptools 65 and once with the current one, offline
(PIP_NO_INDEX=1, no build isolation). NumPy, SciPy, Numba... come from this interpreter's
site-packages; only the build path (pip, setuptools, wheel) is the image's. Needs the network
once to fetch pip/setuptools/wheel; skipped without it."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Build tools come from the fresh venv; the project itself must not leak in from here.
NOT_SHARED = ("pip", "setuptools", "wheel", "pkg_resources", "_distutils_hack",
              "distutils-precedence", "tinyrnn", "__editable__")

VARIANTS = {  # setuptools < 70.1 builds wheels through the wheel package (< 0.46 has it)
    "setuptools-65": ["pip==24.0", "setuptools==65.*", "wheel<0.46"],
    "setuptools-current": ["pip==24.0", "setuptools", "wheel"],
}


def _shared_site_packages(dest: Path):
    """A folder of links to this interpreter's packages (minus the build tools and tinyrnn)."""
    import numpy
    dest.mkdir()
    sources = {Path(m.__file__).resolve().parent.parent for m in (numpy, pytest)}
    for src in sources:
        for entry in src.iterdir():
            if not entry.name.startswith(NOT_SHARED) and not (dest / entry.name).exists():
                (dest / entry.name).symlink_to(entry)
    return dest


def _copy_repo(dest: Path):
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", "*.egg-info", ".hypothesis", ".pytest_cache", "build", "dist",
        "results", ".venv"))
    return dest


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def image(request, tmp_path_factory):
    """(environment, repository copy, folder) of a fresh venv like the GPU image's."""
    if shutil.which("bash") is None or shutil.which("timeout") is None:
        pytest.skip("needs bash and timeout")
    variant = request.param
    tmp_path = tmp_path_factory.mktemp(variant)
    wheels = tmp_path / "wheels"
    got = subprocess.run([sys.executable, "-m", "pip", "download", "-q",
                          "--disable-pip-version-check", "-d", str(wheels), *VARIANTS[variant]],
                         capture_output=True, text=True, timeout=120)
    if got.returncode != 0:
        pytest.skip(f"cannot download {VARIANTS[variant]} (no network?):\n{got.stderr[-500:]}")
    venv = tmp_path / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create a venv here:\n{made.stderr[-500:]}")
    py = venv / "bin" / "python"
    pip_wheel = next(wheels.glob("pip-*.whl"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([str(py), f"{pip_wheel}/pip", "install", "-q", "--no-index", "--find-links",
                    str(wheels), *VARIANTS[variant]], check=True, env=env, timeout=120)
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path("
                              "'purelib'))"], capture_output=True, text=True, check=True)
    shared = _shared_site_packages(tmp_path / "shared")
    (Path(purelib.stdout.strip()) / "image-packages.pth").write_text(f"{shared}\n")
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return env, _copy_repo(tmp_path / "repo"), tmp_path


def _gpu_check(image, *args):
    env, repo, tmp_path = image
    out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
    done = subprocess.run(["bash", str(repo / "benchmarks" / "gpu_check.sh"), *args],
                          cwd=tmp_path, env={**env, "OUT": str(out)}, capture_output=True,
                          text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr, out


def test_gpu_check_install_only_in_the_simulated_image(image):
    rc, log, out = _gpu_check(image, "--install-only")
    repo = image[1]
    assert rc == 0, log[-4000:]
    assert f"imported {repo / 'tinyrnn'}" in log and str(repo / "kernels" / "cuda_kernel.py") in log
    assert "pip 24.0" in log and log.strip().splitlines()[-1] == "gpu_check: install=ok"
    assert (out / "install.log").is_file()


def test_gpu_check_without_a_gpu_stops_at_the_smoke_test(image):
    """The stages off a GPU: install passes, device and smoke fail, the run stops there, and
    the exit code and the last line say so."""
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            pytest.skip("a GPU is present: this would run the whole GPU check")
    except Exception:
        pass
    rc, log, out = _gpu_check(image)
    last = log.strip().splitlines()[-1]
    assert rc == 1 and last.startswith("gpu_check: install=ok device=FAIL"), log[-3000:]
    assert last.endswith("smoke=FAIL(1)") and "SMOKE FAILED" in (out / "smoke.log").read_text()
    assert not (out / "tests.log").exists()


def test_gpu_check_stage_timeouts_fit_the_budget():
    """The stages' timeouts, plus each stage's 5 s to die, fit in 420 s of device time."""
    script = (Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.sh").read_text()
    limits = [int(m) for m in re.findall(r"^stage [\w-]+ (\d+) ", script, flags=re.M)]
    assert len(limits) == 7, limits
    assert sum(limits) + 5 * len(limits) <= 420, limits
