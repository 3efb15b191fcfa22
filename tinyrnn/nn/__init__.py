"""Neural-network modules with PyTorch's names, shapes and defaults."""
from . import functional, init, utils
from .activation import ReLU, Sigmoid, Tanh
from .container import Sequential
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
from .cells import GRUCell, LSTMCell, RNNCell
from .rnn import GRU, LSTM, RNN, RNNBase

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Linear", "Embedding",
           "Dropout", "ReLU", "Tanh", "Sigmoid", "Sequential", "RNNCell", "GRUCell", "LSTMCell",
           "RNNBase", "RNN", "GRU", "LSTM", "CrossEntropyLoss", "NLLLoss", "MSELoss",
           "BCEWithLogitsLoss"]
