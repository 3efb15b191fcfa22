"""tinyrnn: a from-scratch NumPy/CuPy autodiff framework for recurrent networks and ARIMA."""
from setuptools import setup

setup(
    name="tinyrnn",
    version="0.1.0",
    description="NumPy/CuPy autodiff for recurrent networks, hand-written BPTT kernels, and ARIMA",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=["tinyrnn", "tinyrnn.nn", "tinyrnn.optim", "tinyrnn.arima", "tinyrnn.data",
              "tinyrnn.workflows",
              "tinyrnn.kernels"],
    # The time-loop kernels live in the top-level folder kernels/ but are installed only as the
    # subpackage tinyrnn.kernels, never as a top-level `kernels` (pyproject.toml says why the
    # editable install needs PEP 660 for this mapping).
    package_dir={"tinyrnn.kernels": "kernels"},
    package_data={"tinyrnn.kernels": ["*.cu", "*.cuh", "emulation/*.h", "emulation/*.cpp"],
                  "tinyrnn.arima": ["*.csv"]},
    install_requires=["numpy>=1.24", "scipy>=1.10", "numba>=0.58", "statsmodels>=0.14",
                      "threadpoolctl>=3.1"],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6.80", "dask[distributed]>=2024.1", "tqdm>=4.60",
                 "matplotlib>=3.7", "pandas>=1.4", "pmdarima>=2.0", "mpmath>=1.3"],
        "gpu": ["cupy-cuda13x>=13"],
        "bench": ["matplotlib>=3.7"],
        # the peers of benchmarks/arima_bench.py and auto_arima_bench.py (statsforecast is heavy)
        "arima-bench": ["pandas>=1.4", "pmdarima>=2.0", "statsforecast>=1.7"],
        "torch": ["torch>=2.1"],
        "dask": ["dask[distributed]>=2024.1"],
        "workflows": ["tqdm>=4.60", "matplotlib>=3.7"],
    },
    entry_points={"console_scripts": ["tinyrnn = tinyrnn.cli:main"]},
)
