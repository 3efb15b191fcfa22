"""Bad input gets a clear ValueError/TypeError naming the argument, before any kernel runs."""
import numpy as np
import pytest

import tinyrnn as tr
import tinyrnn.nn.functional as F


@pytest.fixture
def rnn():
    tr.manual_seed(0)
    return tr.nn.RNN(3, 4, num_layers=2)


def x3(T=5, B=2, I=3):
    return tr.tensor(np.zeros((T, B, I), np.float32))


@pytest.mark.parametrize("call, error, match", [
    (lambda r: r(x3(I=2)), ValueError, "input_size|3 features"),
    (lambda r: r(tr.tensor(np.zeros((1, 5, 2, 3), np.float32))), ValueError, "2-D .* or 3-D"),
    (lambda r: r(tr.tensor(np.zeros((0, 2, 3), np.float32))), ValueError, "non-empty"),
    (lambda r: r(x3(), tr.tensor(np.zeros((1, 2, 4), np.float32))), ValueError,
     "hx must have shape"),
    (lambda r: r(x3(), tr.tensor(np.zeros((2, 2, 4)))), TypeError, "hx must have dtype"),
    (lambda r: r(tr.tensor(np.zeros((5, 2, 3)))), TypeError, "dtype"),
    (lambda r: r(x3(), lengths=[5, 6]), ValueError, r"lengths must lie in \[1, 5\]"),
    (lambda r: r(x3(), lengths=[0, 3]), ValueError, "lengths"),
    (lambda r: r(x3(), lengths=[5, 3, 2]), ValueError, r"lengths must have shape \(2,\)"),
    (lambda r: r(x3(), lengths=[2.5, 3.0]), TypeError, "lengths"),
    (lambda r: r(x3(), truncate=0), ValueError, "truncate"),
    (lambda r: r(x3(), truncate=1.5), TypeError, "truncate"),
    (lambda r: r(np.zeros((5, 2, 3))), TypeError, "input must be a tinyrnn Tensor"),
])
def test_rnn_call_errors(rnn, call, error, match):
    with pytest.raises(error, match=match):
        call(rnn)


@pytest.mark.parametrize("make, error, match", [
    (lambda: tr.nn.RNN(3, 4, nonlinearity="gelu"), ValueError, "nonlinearity"),
    (lambda: tr.nn.RNN(0, 4), ValueError, "input_size"),
    (lambda: tr.nn.RNN(3, 4, num_layers=0), ValueError, "num_layers"),
    (lambda: tr.nn.RNN(3, 4, dropout=1.0), ValueError, "dropout"),
    (lambda: tr.nn.RNN(3, 4, dropout=-0.1), ValueError, "dropout"),
    (lambda: tr.nn.RNNCell(3, 0), ValueError, "hidden_size"),
    (lambda: tr.nn.Linear(3, 2.5), ValueError, "out_features"),
    (lambda: tr.nn.Embedding(5, 2, padding_idx=7), ValueError, "padding_idx"),
    (lambda: tr.nn.Dropout(1.5), ValueError, "p must be"),
    (lambda: tr.use_kernel("fast"), ValueError, "kernel must be one of"),
])
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_index_and_target_ranges():
    emb = tr.nn.Embedding(5, 2)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\]"):
        emb(np.array([1, 5]))
    with pytest.raises(TypeError, match="indices must hold integers"):
        emb(np.array([1.0]))
    logits = tr.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"target must lie in \[0, 2\]"):
        F.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"target must have shape \(2,\)"):
        F.cross_entropy(logits, np.array([0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 1]), reduction="avg")


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_numpy_kernels_validate_when_called_directly(cell):
    from tinyrnn.kernels.cells import kernel
    k = kernel(cell, "numpy")
    G = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    S = 2 if cell == "lstm" else 1
    xw, w, s0 = np.zeros((4, 2, 3 * G)), np.zeros((3 * G, 3)), np.zeros((S, 2, 3))
    with pytest.raises(ValueError, match="w_hh must have shape"):
        k.forward(xw, np.zeros((3 * G, 2)), s0)
    with pytest.raises(ValueError, match="state0 must have shape"):
        k.forward(xw, w, np.zeros((S, 3, 3)))
    with pytest.raises(TypeError, match="w_hh must have dtype"):
        k.forward(xw, w.astype(np.float32), s0)
    with pytest.raises(ValueError, match="xw must be 3-D"):
        k.forward(xw[0], w, s0)
    with pytest.raises(ValueError, match="lengths"):
        k.forward(xw, w, s0, np.array([5, 1]))
    if cell == "rnn":
        with pytest.raises(ValueError, match="nonlinearity"):
            k.forward(xw, w, s0, nonlinearity="sigmoid")
    if cell == "gru":
        with pytest.raises(ValueError, match=r"b_hn must have shape \(3,\)"):
            k.forward(xw, w, s0, b_hn=np.zeros(4))
    ys, saved = k.forward(xw, w, s0)
    with pytest.raises(ValueError, match="g_ys must have shape"):
        k.backward(np.zeros((S, 3, 2, 3)), ys, saved, s0, w)
    with pytest.raises(ValueError, match="ys must be 4-D"):
        k.backward(ys[0], ys[0], saved, s0, w)


def _lstm():
    tr.manual_seed(0)
    return tr.nn.LSTM(3, 4, num_layers=2)


@pytest.mark.parametrize("call, error, match", [
    (lambda m: m(x3(), tr.tensor(np.zeros((2, 2, 4), np.float32))), TypeError,
     r"tuple \(h0, c0\)"),
    (lambda m: m(x3(), (tr.tensor(np.zeros((2, 2, 4), np.float32)),)), TypeError,
     r"tuple \(h0, c0\)"),
    (lambda m: m(x3(), (tr.tensor(np.zeros((2, 2, 4), np.float32)),
                        tr.tensor(np.zeros((1, 2, 4), np.float32)))), ValueError,
     "c0 must have shape"),
    (lambda m: m(x3(), (tr.tensor(np.zeros((2, 2, 4), np.float32)),
                        tr.tensor(np.zeros((2, 2, 4))))), TypeError, "c0 must have dtype"),
    (lambda m: m(x3(), (np.zeros((2, 2, 4), np.float32), np.zeros((2, 2, 4), np.float32))),
     TypeError, "h0 must be a tinyrnn Tensor"),
    (lambda m: m(x3(I=2)), ValueError, "input_size|3 features"),
])
def test_lstm_state_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(_lstm())


def test_gru_and_cells_errors():
    tr.manual_seed(0)
    gru = tr.nn.GRU(3, 4)
    with pytest.raises(TypeError, match="hx must be a tinyrnn Tensor for the gru cell"):
        gru(x3(), (tr.tensor(np.zeros((1, 2, 4), np.float32)),))
    with pytest.raises(ValueError, match="proj_size"):
        tr.nn.LSTM(3, 4, proj_size=2)
    cell = tr.nn.LSTMCell(3, 4)
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        cell(tr.tensor(np.zeros((2, 3), np.float32)), tr.tensor(np.zeros((2, 4), np.float32)))
    with pytest.raises(ValueError, match="c must have shape"):
        cell(tr.tensor(np.zeros((2, 3), np.float32)),
             (tr.tensor(np.zeros((2, 4), np.float32)), tr.tensor(np.zeros((1, 4), np.float32))))
    with pytest.raises(ValueError, match=r"input must have shape \(batch, 3\)"):
        tr.nn.GRUCell(3, 4)(tr.tensor(np.zeros((2, 2), np.float32)))
    with pytest.raises(ValueError, match="hidden_size"):
        tr.nn.GRUCell(3, 0)


def test_use_kernel_setter_and_context():
    assert tr.current_kernel() == "auto"
    with tr.use_kernel("numpy"):
        assert tr.current_kernel() == "numpy"
    assert tr.current_kernel() == "auto"
    tr.use_kernel("numpy")
    assert tr.current_kernel() == "numpy"
    tr.use_kernel("auto")
    assert set(tr.available_kernels()) <= {"numpy", "numba", "cuda"}
    assert "numpy" in tr.available_kernels()
