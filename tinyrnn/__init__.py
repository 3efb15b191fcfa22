"""tinyrnn: a from-scratch NumPy/CuPy autodiff framework for recurrent networks and ARIMA.

    import tinyrnn as tr
    rnn = tr.nn.RNN(8, 32, num_layers=2)
    out, h_n = rnn(tr.tensor(x))
"""
from . import malloc
malloc.retain_by_default()  # before the first large array (see tinyrnn/malloc.py)

from . import nn, optim
from .backend import available_kernels, current_kernel, use_kernel
from .gradcheck import GradcheckError, gradcheck
from .random import manual_seed
from .serialization import load, save
from .tensor import (Tensor, arange, cat, concat, from_numpy, is_grad_enabled, no_grad, ones,
                     randn, stack, tensor, zeros)

__version__ = "0.1.0"

__all__ = ["Tensor", "tensor", "concat", "cat", "stack", "zeros", "ones", "randn", "arange",
           "from_numpy", "no_grad", "is_grad_enabled", "gradcheck",
           "GradcheckError", "save", "load", "available_kernels", "use_kernel",
           "current_kernel", "manual_seed", "nn", "optim"]
