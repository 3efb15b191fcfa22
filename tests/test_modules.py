"""Modules, state dicts, checkpoints, losses and optimisers."""
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyrnn as tr
import tinyrnn.nn.functional as F


def test_named_parameters_follow_registration_order():
    model = tr.nn.Sequential(tr.nn.Embedding(10, 4, padding_idx=0), tr.nn.Linear(4, 3),
                             tr.nn.ReLU(), tr.nn.Linear(3, 2, bias=False))
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "1.weight", "1.bias",
                                                        "3.weight"]
    assert len(model) == 4 and isinstance(model[1], tr.nn.Linear)


def test_parameters_are_named_parameters_in_the_same_order():
    class Net(tr.nn.Module):  # own parameters, then children, one of them nested
        def __init__(self):
            super().__init__()
            self.scale = tr.nn.Parameter(np.ones(2))
            self.body = tr.nn.Sequential(tr.nn.Linear(2, 3), tr.nn.Sequential(
                tr.nn.Linear(3, 3, bias=False), tr.nn.GRU(3, 2)))
            self.head = tr.nn.Linear(2, 1)

    net = Net()
    named = [p for _, p in net.named_parameters()]
    assert len(named) == 1 + 2 + 1 + 4 + 2
    assert [id(p) for p in net.parameters()] == [id(p) for p in named]


def test_state_dict_roundtrip_through_checkpoint(tmp_path):
    tr.manual_seed(1)
    a = tr.nn.RNN(3, 4, num_layers=2, bidirectional=True)
    tr.manual_seed(2)
    b = tr.nn.RNN(3, 4, num_layers=2, bidirectional=True)
    path = tmp_path / "ckpt.npz"
    tr.save(a.state_dict(), path)
    b.load_state_dict(tr.load(path))
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and np.array_equal(pa.data, pb.data)
    assert [f for f in os.listdir(tmp_path)] == ["ckpt.npz"]  # no temp file left behind


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tr.save({"w": np.ones(3)}, path)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        tr.save({"w": np.zeros(3)}, path)
    assert np.array_equal(tr.load(path)["w"], np.ones(3))  # the old checkpoint survives
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_load_refuses_pickles(tmp_path):
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"w": np.ones(2)}))
    with pytest.raises(ValueError, match="refused"):
        tr.load(path)
    obj = tmp_path / "obj.npz"
    np.savez(obj, w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        tr.load(obj)
    with pytest.raises(TypeError, match="numeric"):
        tr.save({"w": np.array(["x"])}, tmp_path / "s.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        tr.load(tmp_path / "missing.npz")


def test_load_state_dict_validates_before_writing():
    lin = tr.nn.Linear(3, 2)
    before = lin.weight.data.copy()
    with pytest.raises(ValueError, match="missing.*bias"):
        lin.load_state_dict({"weight": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="unexpected.*extra"):
        lin.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(2),
                             "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"state_dict\['bias'\] must have shape \(2,\)"):
        lin.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(3)})
    np.testing.assert_array_equal(lin.weight.data, before)  # nothing partially written
    lin.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)})
    assert lin.weight.dtype == np.float32 and np.all(lin.weight.data == 1)


def test_train_eval_and_zero_grad():
    model = tr.nn.Sequential(tr.nn.Linear(2, 2), tr.nn.Dropout(0.5))
    model.eval()
    assert not model[1].training
    x = tr.tensor(np.ones((4, 2), np.float32))
    np.testing.assert_array_equal(model(x).data, model(x).data)
    model(x).sum().backward()
    assert model[0].weight.grad is not None
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_dropout_scales_kept_units():
    tr.manual_seed(0)
    x = tr.tensor(np.ones((200, 50)))
    y = F.dropout(x, 0.3).data
    kept = y != 0
    assert np.allclose(y[kept], 1 / 0.7) and 0.65 < kept.mean() < 0.75


def test_embedding_padding_row_gets_no_gradient():
    emb = tr.nn.Embedding(5, 3, padding_idx=0).double()
    assert np.all(emb.weight.data[0] == 0)
    out = emb(np.array([[0, 1, 1], [2, 0, 4]]))
    assert out.shape == (2, 3, 3)
    out.sum().backward()
    assert np.all(emb.weight.grad[0] == 0) and np.all(emb.weight.grad[1] == 2)
    w = tr.tensor(np.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    assert tr.gradcheck(lambda w: F.embedding(np.array([1, 3, 3]), w), [w])


@given(n=st.integers(1, 6), c=st.integers(2, 5), seed=st.integers(0, 2**31 - 1),
       reduction=st.sampled_from(["mean", "sum", "none"]))
def test_losses_pass_gradcheck(n, c, seed, reduction):
    rng = np.random.default_rng(seed)
    x = tr.tensor(rng.standard_normal((n, c)) * 3, requires_grad=True)
    target = rng.integers(0, c, n)
    assert tr.gradcheck(lambda a: F.cross_entropy(a, target, reduction=reduction), [x])
    y = rng.standard_normal((n, c))
    assert tr.gradcheck(lambda a: F.mse_loss(a, y, reduction=reduction), [x])


def test_cross_entropy_is_stable_for_huge_logits():
    x = tr.tensor(np.array([[1000.0, -1000.0], [-1000.0, 1000.0]]), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 0]))
    assert np.isfinite(loss.item()) and np.isclose(loss.item(), 1000.0)
    loss.backward()
    assert np.all(np.isfinite(x.grad))


def test_sgd_and_adam_minimise_a_quadratic():
    for make in (lambda p: tr.optim.SGD(p, lr=0.1, momentum=0.9),
                 lambda p: tr.optim.Adam(p, lr=0.1)):
        w = tr.nn.Parameter(np.array([3.0, -2.0]))
        opt = make([w])
        for _ in range(300):
            opt.zero_grad()
            ((w - tr.tensor(np.array([1.0, 0.5]))) ** 2).sum().backward()
            opt.step()
        np.testing.assert_allclose(w.data, [1.0, 0.5], atol=1e-3)


def test_clip_grad_norm():
    a, b = tr.nn.Parameter(np.zeros(2)), tr.nn.Parameter(np.zeros(1))
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])
    total = tr.optim.clip_grad_norm_([a, b], 1.0)
    assert np.isclose(total, 5.0)
    assert np.isclose(np.sqrt((a.grad ** 2).sum() + (b.grad ** 2).sum()), 1.0, atol=1e-5)
    a.grad = np.array([np.nan, 0.0])
    with pytest.raises(FloatingPointError):
        tr.optim.clip_grad_norm_([a, b], 1.0)


def test_module_to_dtype_and_missing_cuda():
    rnn = tr.nn.RNN(2, 3).double()
    assert all(p.dtype == np.float64 for p in rnn.parameters())
    with pytest.raises(TypeError, match="floating"):
        rnn.to(np.int32)
    if "cuda" not in tr.available_kernels():
        with pytest.raises(RuntimeError, match="CuPy|CUDA"):
            rnn.to("cuda")
