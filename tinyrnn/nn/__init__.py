"""Neural-network modules with PyTorch's names, shapes and defaults."""
from . import functional, init, utils
from .activation import ReLU, Sigmoid, Tanh
from .container import Sequential
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
from .rnn import RNN, RNNCell

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Linear", "Embedding",
           "Dropout", "ReLU", "Tanh", "Sigmoid", "Sequential", "RNNCell", "RNN",
           "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss"]
