#!/usr/bin/env python3
"""The main job: the CPU-vs-GPU RNN benchmark on synthetic data (see tinyrnn/bench.py).

    python benchmarks/run.py [--quick] [--suite cpu|gpu|all]
"""
import sys

from tinyrnn.bench import main

if __name__ == "__main__":
    sys.exit(main())
