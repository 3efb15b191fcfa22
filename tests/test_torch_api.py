"""PyTorch's names where tinyrnn has the concept, each compared with torch itself.

Without torch the comparisons skip; the gradient checks (float64 central differences)
run everywhere.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyrnn as tr
import tinyrnn.nn.functional as F

try:
    import torch
except ImportError:  # the torch comparisons skip; everything else runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed "
                                 "(pip install torch) for the comparison")


def close(ours, theirs, rtol=1e-10, atol=1e-12):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    ours = ours.numpy() if isinstance(ours, tr.Tensor) else np.asarray(ours)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------- dim= and tensor methods

def test_dim_is_accepted_wherever_axis_is_and_both_is_an_error():
    x = tr.tensor(np.arange(24.0).reshape(2, 3, 4))
    for a in (0, 1, -1, (0, 2)):
        assert np.array_equal(x.sum(dim=a).data, x.sum(axis=a).data)
        assert np.array_equal(x.mean(dim=a, keepdim=True).data,
                              x.mean(axis=a, keepdims=True).data)
    assert np.array_equal(x.softmax(dim=1).data, x.softmax(1).data)
    assert np.array_equal(F.softmax(x, dim=0).data, F.softmax(x, axis=0).data)
    assert np.array_equal(F.log_softmax(x, dim=1).data, x.log_softmax(axis=1).data)
    assert tr.concat([x, x], dim=2).shape == (2, 3, 8) == tr.cat([x, x], 2).shape
    assert tr.stack([x, x], dim=1).shape == (2, 2, 3, 4)
    for call in (lambda: x.sum(axis=0, dim=1), lambda: F.softmax(x, 0, dim=1),
                 lambda: tr.stack([x], axis=0, dim=0), lambda: x.argmax(axis=0, dim=0)):
        with pytest.raises(TypeError, match="axis or dim, not both"):
            call()


@needs_torch
def test_view_casts_and_argmax_match_torch():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 5))
    x, t = tr.tensor(a), torch.from_numpy(a)
    assert x.view(12, 5).shape == tuple(t.view(12, 5).shape)
    assert x.view(-1).shape == tuple(t.view(-1).shape) and x.size() == tuple(t.size())
    assert x.size(1) == t.size(1)
    assert x.float().dtype == np.float32 and x.float().double().dtype == np.float64
    assert x.long().dtype == np.int64
    for dim in (None, 0, 1, -1):
        for keepdim in (False, True):
            for name in ("argmax", "argmin"):
                ours = getattr(x, name)(dim=dim, keepdim=keepdim)
                theirs = getattr(t, name)(dim=dim, keepdim=keepdim)
                assert ours.dtype == np.int64
                close(ours, theirs, rtol=0, atol=0)


@needs_torch
def test_permute_transpose_unsqueeze_squeeze_match_torch():
    a = np.random.default_rng(2).standard_normal((2, 1, 3, 4))
    x, t = tr.tensor(a, requires_grad=True), torch.from_numpy(a)
    cases = [(lambda v: v.permute(3, 0, 2, 1), lambda v: v.permute(3, 0, 2, 1)),
             (lambda v: v.permute((1, 0, 3, 2)), lambda v: v.permute((1, 0, 3, 2))),
             (lambda v: v.transpose(0, 2), lambda v: v.transpose(0, 2)),
             (lambda v: v.transpose(-1, 1), lambda v: v.transpose(-1, 1)),
             (lambda v: v.unsqueeze(0), lambda v: v.unsqueeze(0)),
             (lambda v: v.unsqueeze(-1), lambda v: v.unsqueeze(-1)),
             (lambda v: v.unsqueeze(2), lambda v: v.unsqueeze(2)),
             (lambda v: v.squeeze(), lambda v: v.squeeze()),
             (lambda v: v.squeeze(1), lambda v: v.squeeze(1)),
             (lambda v: v.squeeze(2), lambda v: v.squeeze(2))]
    for ours, theirs in cases:
        close(ours(x), theirs(t), rtol=0, atol=0)
        assert tr.gradcheck(ours, [x])
    m = tr.tensor(np.arange(6.0).reshape(2, 3))
    assert m.transpose(1, 0).shape == (3, 2) == m.T.shape  # NumPy's meaning kept for 2-D
    assert x.transpose().shape == (4, 3, 1, 2)
    for bad in ((0, 1, 2), (0, 1, 2, 5), (0, 0, 1, 2)):
        with pytest.raises(ValueError, match="dims must order all 4 axes"):
            x.permute(*bad)


def test_view_and_casts_carry_gradients():
    x = tr.tensor(np.random.default_rng(1).standard_normal((2, 6)), requires_grad=True)
    assert tr.gradcheck(lambda a: a.view(3, 4) * a.view(3, 4), [x])
    x.grad = None  # gradcheck left its own gradient
    y = x.float()
    assert y.requires_grad and y.dtype == np.float32
    (y * 2).sum().backward()
    assert x.grad.dtype == np.float64 and np.all(x.grad == 2)
    assert tr.gradcheck(lambda a: a.double().view(-1) * 3, [x])


@needs_torch
def test_factories_match_torch_shapes_and_dtypes():
    pairs = [(tr.zeros(2, 3), torch.zeros(2, 3)), (tr.ones((4,)), torch.ones((4,))),
             (tr.zeros(2, dtype=np.float64), torch.zeros(2, dtype=torch.float64)),
             (tr.arange(5), torch.arange(5)), (tr.arange(1, 7, 2), torch.arange(1, 7, 2)),
             (tr.arange(0.0, 1.0, 0.25), torch.arange(0.0, 1.0, 0.25))]
    for ours, theirs in pairs:
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        close(ours, theirs, rtol=0, atol=0)
    tr.manual_seed(3)
    r = tr.randn(2, 5, requires_grad=True)
    assert r.shape == (2, 5) and r.dtype == np.float32 and r.requires_grad
    tr.manual_seed(3)
    assert np.array_equal(tr.randn(2, 5).data, r.data)  # tinyrnn's generator
    a = np.arange(6.0)
    shared = tr.from_numpy(a)
    a[0] = 42.0
    assert shared.dtype == np.float64 and shared.data[0] == 42.0  # shares memory, as torch
    with pytest.raises(TypeError, match="numpy.ndarray"):
        tr.from_numpy([1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative integer sizes"):
        tr.zeros(2, -1)


# ---------------------------------------------------------------------- cross-entropy

ce_cases = st.fixed_dictionaries({
    "shape": st.sampled_from([(5,), (4, 5), (3, 4, 2), (2, 3, 2, 2)]),
    "reduction": st.sampled_from(["mean", "sum", "none"]),
    "weighted": st.booleans(), "ignore": st.booleans(),
    "label_smoothing": st.sampled_from([0.0, 0.1, 0.35]),
    "seed": st.integers(0, 2**31 - 1)})


def _ce_case(c):
    rng = np.random.default_rng(c["seed"])
    shape = c["shape"]
    C = shape[0] if len(shape) == 1 else shape[1]
    logits = rng.standard_normal(shape) * 2
    target_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    target = rng.integers(0, C, target_shape)
    kwargs = {"reduction": c["reduction"], "label_smoothing": c["label_smoothing"]}
    if c["weighted"]:
        kwargs["weight"] = rng.uniform(0.2, 2.0, C)
    if c["ignore"] and target.ndim:
        target.reshape(-1)[0] = 7  # ignore one target (the rest keep the mean defined)
        kwargs["ignore_index"] = 7
    return logits, target, kwargs


@needs_torch
@given(c=ce_cases)
def test_cross_entropy_matches_torch_with_weight_ignore_index_and_smoothing(c):
    logits, target, kwargs = _ce_case(c)
    x = tr.tensor(logits, requires_grad=True)
    ours = F.cross_entropy(x, target, **kwargs)
    tx = torch.tensor(logits, requires_grad=True)
    tkw = dict(kwargs, weight=torch.from_numpy(kwargs["weight"])) if "weight" in kwargs \
        else kwargs
    theirs = torch.nn.functional.cross_entropy(tx, torch.from_numpy(target), **tkw)
    close(ours, theirs)
    g = np.random.default_rng(0).standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    close(x.grad, tx.grad)
    module = tr.nn.CrossEntropyLoss(**kwargs)(tr.tensor(logits), target)
    close(module, theirs)


@given(c=ce_cases)
def test_cross_entropy_with_the_new_options_passes_gradcheck(c):
    logits, target, kwargs = _ce_case(c)
    x = tr.tensor(logits, requires_grad=True)
    assert tr.gradcheck(lambda a: F.cross_entropy(a, target, **kwargs), [x])


@needs_torch
@given(c=ce_cases)
def test_cross_entropy_with_class_probabilities_matches_torch(c):
    logits, _, kwargs = _ce_case(c)
    kwargs.pop("ignore_index", None)
    dim = 0 if logits.ndim == 1 else 1
    probs = np.random.default_rng(c["seed"] + 1).dirichlet(np.ones(logits.shape[dim]),
                                                             logits.shape[:dim] +
                                                             logits.shape[dim + 1:])
    probs = np.moveaxis(probs, -1, dim)
    x, y = tr.tensor(logits, requires_grad=True), tr.tensor(probs, requires_grad=True)
    ours = F.cross_entropy(x, y, **kwargs)
    tx = torch.tensor(logits, requires_grad=True)
    ty = torch.tensor(probs, requires_grad=True)
    tkw = dict(kwargs, weight=torch.from_numpy(kwargs["weight"])) if "weight" in kwargs \
        else kwargs
    theirs = torch.nn.functional.cross_entropy(tx, ty, **tkw)
    close(ours, theirs)
    g = np.random.default_rng(0).standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    close(x.grad, tx.grad)
    close(y.grad, ty.grad)
    assert tr.gradcheck(lambda a, b: F.cross_entropy(a, b, **kwargs),
                        [tr.tensor(logits, requires_grad=True),
                         tr.tensor(probs, requires_grad=True)])


@needs_torch
@given(c=ce_cases)
def test_nll_loss_after_log_softmax_matches_torch(c):
    logits, target, kwargs = _ce_case(c)
    kwargs.pop("label_smoothing")
    dim = 0 if logits.ndim == 1 else 1
    x = tr.tensor(logits, requires_grad=True)
    ours = F.nll_loss(F.log_softmax(x, dim=dim), target, **kwargs)
    tx = torch.tensor(logits, requires_grad=True)
    tkw = dict(kwargs, weight=torch.from_numpy(kwargs["weight"])) if "weight" in kwargs \
        else kwargs
    theirs = torch.nn.functional.nll_loss(torch.log_softmax(tx, dim), torch.from_numpy(target),
                                          **tkw)
    close(ours, theirs)
    g = np.random.default_rng(0).standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    close(x.grad, tx.grad)
    close(tr.nn.NLLLoss(**kwargs)(F.log_softmax(tr.tensor(logits), dim=dim), target), theirs)
    assert tr.gradcheck(lambda a: F.nll_loss(a, target, **kwargs),
                        [tr.tensor(logits, requires_grad=True)])


@needs_torch
def test_sequence_labelling_logits_n_c_t_with_padding_ignored():
    """The issue's case: (N, C, T) logits, padded steps marked -100, no masking by hand."""
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((3, 6, 7)).astype(np.float32)
    target = rng.integers(0, 6, (3, 7))
    target[0, 4:] = target[2, 1:] = -100
    ours = tr.nn.CrossEntropyLoss()(tr.tensor(logits), target)
    theirs = torch.nn.CrossEntropyLoss()(torch.from_numpy(logits), torch.from_numpy(target))
    assert ours.dtype == np.float32
    close(ours, theirs, rtol=1e-6)
    kept = target != -100  # the same as the mean over the real steps only
    by_hand = F.cross_entropy(tr.tensor(logits.transpose(0, 2, 1)[kept]), target[kept])
    close(ours, by_hand.data, rtol=1e-6)


def test_cross_entropy_rejects_bad_arguments_by_name():
    x = tr.tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"target must have shape \(2, 4\)"):
        F.cross_entropy(x, np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match=r"target must lie in \[0, 2\].*ignore_index=-100"):
        F.cross_entropy(x, np.full((2, 4), 3))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, np.zeros((2, 4), dtype=int), weight=np.ones(4))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(x, np.zeros((2, 4), dtype=int), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"class-probability targets must have the input's "
                       r"shape \(2, 3, 4\), got \(2, 4\)"):
        F.cross_entropy(x, np.zeros((2, 4)))  # floats: probabilities, not indices
    with pytest.raises(TypeError, match="target .*integers"):
        F.cross_entropy(x, np.zeros((2, 4), dtype=bool))
    with pytest.raises(ValueError, match="reduction must be one of"):
        tr.nn.CrossEntropyLoss(reduction="avg")


# ---------------------------------------------------------------------- BCE with logits, MSE

bce_cases = st.fixed_dictionaries({
    "shape": st.sampled_from([(4,), (3, 4), (2, 3, 4)]),
    "reduction": st.sampled_from(["mean", "sum", "none"]),
    "weighted": st.booleans(), "pos_weighted": st.booleans(),
    "seed": st.integers(0, 2**31 - 1)})


def _bce_case(c):
    rng = np.random.default_rng(c["seed"])
    shape = c["shape"]
    logits = rng.standard_normal(shape) * 3
    target = rng.uniform(0, 1, shape).round(1)  # soft labels too
    kwargs = {"reduction": c["reduction"]}
    if c["weighted"]:
        kwargs["weight"] = rng.uniform(0.5, 2.0, shape[-1:])
    if c["pos_weighted"]:
        kwargs["pos_weight"] = rng.uniform(0.5, 3.0, shape[-1:])
    return logits, target, kwargs


@needs_torch
@given(c=bce_cases)
def test_bce_with_logits_matches_torch(c):
    logits, target, kwargs = _bce_case(c)
    x, y = tr.tensor(logits, requires_grad=True), tr.tensor(target, requires_grad=True)
    ours = F.binary_cross_entropy_with_logits(x, y, **kwargs)
    tx = torch.tensor(logits, requires_grad=True)
    ty = torch.tensor(target, requires_grad=True)
    tkw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
           for k, v in kwargs.items()}
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(tx, ty, **tkw)
    close(ours, theirs)
    g = np.random.default_rng(1).standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    close(x.grad, tx.grad)
    close(y.grad, ty.grad)
    close(tr.nn.BCEWithLogitsLoss(**kwargs)(tr.tensor(logits), target), theirs)


@given(c=bce_cases)
def test_bce_with_logits_passes_gradcheck(c):
    logits, target, kwargs = _bce_case(c)
    x, y = tr.tensor(logits, requires_grad=True), tr.tensor(target, requires_grad=True)
    assert tr.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kwargs),
                        [x, y])


def test_bce_with_logits_is_stable_and_checks_shapes():
    x = tr.tensor(np.array([1000.0, -1000.0]), requires_grad=True)
    loss = tr.nn.BCEWithLogitsLoss(reduction="sum")(x, np.array([1.0, 0.0]))
    assert loss.item() == 0.0
    loss.backward()
    assert np.all(np.isfinite(x.grad))
    with pytest.raises(ValueError, match="target must have the input's shape"):
        F.binary_cross_entropy_with_logits(x, np.zeros(3))
    with pytest.raises(ValueError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(x, np.zeros(2), pos_weight=np.ones(3))


@needs_torch
def test_mse_loss_module_matches_torch():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for reduction in ("mean", "sum", "none"):
        close(tr.nn.MSELoss(reduction=reduction)(tr.tensor(a), b),
              torch.nn.MSELoss(reduction=reduction)(torch.from_numpy(a), torch.from_numpy(b)))


# ---------------------------------------------------------------------- optimisers

def _twins(seed=0, shapes=((3, 2), (2,))):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s) for s in shapes]
    ours = [tr.nn.Parameter(v.copy()) for v in values]
    theirs = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    return ours, theirs


def _run(ours_opt, theirs_opt, ours, theirs, steps, seed=1, sched=None):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape)
            p.grad, q.grad = g.copy(), torch.from_numpy(g.copy())
        ours_opt.step()
        theirs_opt.step()
        if sched:
            sched[0].step()
            sched[1].step()


@needs_torch
@pytest.mark.parametrize("name, kwargs", [
    ("AdamW", {}), ("AdamW", dict(lr=0.05, weight_decay=0.3, betas=(0.8, 0.95))),
    ("AdamW", dict(amsgrad=True)), ("Adam", dict(amsgrad=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1))])
def test_optimisers_match_torch(name, kwargs):
    ours, theirs = _twins()
    a, b = getattr(tr.optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs, **kwargs)
    _run(a, b, ours, theirs, 8)
    for p, q in zip(ours, theirs):
        close(p.data, q, rtol=1e-12)


@needs_torch
def test_param_groups_and_state_dict_follow_torch():
    ours, theirs = _twins()
    groups = lambda ps: [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.1}]  # noqa: E731
    a = tr.optim.Adam(groups(ours), lr=0.01, weight_decay=0.01)
    b = torch.optim.Adam(groups(theirs), lr=0.01, weight_decay=0.01)
    assert [g["lr"] for g in a.param_groups] == [g["lr"] for g in b.param_groups]
    _run(a, b, ours, theirs, 3)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["state"].keys() == sb["state"].keys() == {0, 1}
    assert set(sa["state"][0]) == set(sb["state"][0])  # step, exp_avg, exp_avg_sq
    for i in (0, 1):
        assert sa["state"][i]["step"] == int(sb["state"][i]["step"])
        close(sa["state"][i]["exp_avg_sq"], sb["state"][i]["exp_avg_sq"])
    for ga, gb in zip(sa["param_groups"], sb["param_groups"]):
        assert ga["params"] == gb["params"]
        assert {k: gb[k] for k in ga} == ga  # our settings are a subset of torch's

    # A fresh optimiser resumes from either state dict and then matches torch step for step.
    for source in (sa, {"state": {k: {n: v.numpy() if hasattr(v, "numpy") else v
                                      for n, v in s.items()} for k, s in sb["state"].items()},
                        "param_groups": sb["param_groups"]}):
        copies = [tr.nn.Parameter(p.data.copy()) for p in ours]
        c = tr.optim.Adam(groups(copies), lr=0.5)
        c.load_state_dict(source)
        assert [g["lr"] for g in c.param_groups] == [0.01, 0.1]
        twin_params = [torch.nn.Parameter(q.detach().clone()) for q in theirs]
        d = torch.optim.Adam(groups(twin_params), lr=0.5)
        d.load_state_dict(sb)
        _run(c, d, copies, twin_params, 2)
        for p, q in zip(copies, twin_params):
            close(p.data, q, rtol=1e-12)
    with pytest.raises(ValueError, match="param groups"):
        tr.optim.Adam(ours).load_state_dict(sa)
    bad = {"state": {}, "param_groups": [dict(g, lr=-1.0) for g in sa["param_groups"]]}
    with pytest.raises(ValueError, match="lr must be > 0, got -1.0"):
        a.load_state_dict(bad)
    assert a.param_groups[0]["lr"] == 0.01  # nothing was written


def test_optimiser_arguments_are_checked_by_name():
    w = tr.nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="lr must be > 0"):
        tr.optim.AdamW([w], lr=0)
    with pytest.raises(ValueError, match="betas"):
        tr.optim.Adam([{"params": [w], "betas": (1.0, 0.9)}])
    with pytest.raises(TypeError, match="unknown hyperparameters.*momentum"):
        tr.optim.Adam([{"params": [w], "momentum": 0.9}])
    with pytest.raises(TypeError, match="single Tensor"):
        tr.optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="more than one param group"):
        tr.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    opt = tr.optim.SGD([w], lr=0.1)
    w.grad = np.ones(2)
    assert opt.step(lambda: 1.5) == 1.5 and np.allclose(w.data, -0.1)  # closure, as torch
    opt.lr = 0.5  # the old single-rate attribute still works
    assert opt.param_groups[0]["lr"] == 0.5 and opt.params == [w]


# ---------------------------------------------------------------------- schedulers

@needs_torch
@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=3)), ("StepLR", dict(step_size=2, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9])), ("ExponentialLR", dict(gamma=0.8)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 1 / (1 + epoch))),
    ("CosineAnnealingLR", dict(T_max=5)), ("CosineAnnealingLR", dict(T_max=4, eta_min=1e-3))])
def test_lr_schedulers_match_torch(name, kwargs):
    ours, theirs = _twins()
    groups = lambda ps: [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.3}]  # noqa: E731
    a, b = tr.optim.SGD(groups(ours), lr=0.1), torch.optim.SGD(groups(theirs), lr=0.1)
    make = getattr(tr.optim.lr_scheduler, name)
    sa, sb = make(a, **kwargs), getattr(torch.optim.lr_scheduler, name)(b, **kwargs)
    for epoch in range(14):
        if epoch == 8:  # stop and resume from state dicts, the usual way
            a_state, sa_state = a.state_dict(), sa.state_dict()
            assert "optimizer" not in sa_state
            ours = [tr.nn.Parameter(p.data.copy()) for p in ours]
            a = tr.optim.SGD(groups(ours), lr=1.0)
            sa = make(a, **kwargs)  # build both, then load both (construction sets lr)
            a.load_state_dict(a_state)
            sa.load_state_dict(sa_state)
        assert sa.get_last_lr() == pytest.approx(sb.get_last_lr(), rel=1e-12), epoch
        assert [g["lr"] for g in a.param_groups] == sa.get_last_lr()
        assert sa.last_epoch == sb.last_epoch
        if epoch == 6:  # a change by hand is carried along, as torch's chainable form does
            a.param_groups[0]["lr"] = b.param_groups[0]["lr"] = 0.05
        _run(a, b, ours, theirs, 1)
        sa.step()
        sb.step()
    for p, q in zip(ours, theirs):
        close(p.data, q, rtol=1e-12)
    # Resuming by last_epoch= needs the groups' initial_lr, as in torch.
    c = tr.optim.SGD([tr.nn.Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        make(c, last_epoch=3, **kwargs)
    d = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for opt in (c, d):
        opt.param_groups[0].update(initial_lr=0.2, lr=0.15)
    sc = make(c, last_epoch=3, **kwargs)
    sd = getattr(torch.optim.lr_scheduler, name)(d, last_epoch=3, **kwargs)
    for _ in range(4):
        assert sc.get_last_lr() == pytest.approx(sd.get_last_lr(), rel=1e-12)
        c.step()  # no gradients: only keeps torch from warning about the order
        d.step()
        sc.step()
        sd.step()


@needs_torch
@pytest.mark.parametrize("kwargs", [
    {}, dict(mode="max", factor=0.5, patience=1, cooldown=2),
    dict(patience=0, threshold=0.1, threshold_mode="abs", min_lr=0.02),
    dict(patience=2, min_lr=[0.001, 0.05], eps=1e-3)])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    ours, theirs = _twins()
    a = tr.optim.SGD([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.3}], lr=0.1)
    b = torch.optim.SGD([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.3}], lr=0.1)
    sa = tr.optim.lr_scheduler.ReduceLROnPlateau(a, **kwargs)
    sb = torch.optim.lr_scheduler.ReduceLROnPlateau(b, **kwargs)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.899, 0.95, 0.96, 0.8, 0.85, 0.9, 0.9, 0.9, 0.9,
               0.7, 1.0, 1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0] * 2
    for m in metrics:
        sa.step(tr.tensor(m) if m > 0.9 else m)  # a number or a one-element tensor
        sb.step(m)
        assert sa.get_last_lr() == pytest.approx(sb.get_last_lr(), rel=1e-12)
        assert (sa.num_bad_epochs, sa.cooldown_counter) == (sb.num_bad_epochs,
                                                           sb.cooldown_counter)
    with pytest.raises(ValueError, match="factor must be < 1.0"):
        tr.optim.lr_scheduler.ReduceLROnPlateau(a, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        tr.optim.lr_scheduler.ReduceLROnPlateau(a, mode="up")


def test_scheduler_arguments_are_checked_by_name():
    with pytest.raises(TypeError, match="tinyrnn Optimizer"):
        tr.optim.lr_scheduler.StepLR(object(), step_size=2)
    opt = tr.optim.SGD([tr.nn.Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="step_size must be an integer >= 1, got 0"):
        tr.optim.lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be an integer >= 1, got 2.5"):
        tr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2.5)
    with pytest.raises(ValueError, match="milestones must be an integer >= 0, got -1"):
        tr.optim.lr_scheduler.MultiStepLR(opt, milestones=[3, -1])
    sched = tr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=np.int64(10))  # NumPy ints
    assert sched.T_max == 10 and type(sched.T_max) is int


# ---------------------------------------------------------------------- gradient clipping

@needs_torch
@pytest.mark.parametrize("max_norm, norm_type", [(1.0, 2.0), (0.5, 1.0), (10.0, 2.0),
                                                 (0.3, math.inf), (0.7, 3.0)])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs = _twins(shapes=((3, 4), (5,), (2, 2)))
    rng = np.random.default_rng(4)
    for p, q in zip(ours, theirs):
        g = rng.standard_normal(p.shape)
        p.grad, q.grad = g.copy(), torch.from_numpy(g.copy())
    total = tr.nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total == pytest.approx(expected.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        close(p.grad, q.grad, rtol=1e-12)
    tr.nn.utils.clip_grad_value_(ours, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for p, q in zip(ours, theirs):
        close(p.grad, q.grad, rtol=0)
    assert tr.nn.utils.clip_grad_norm_ is tr.optim.clip_grad_norm_
    single = tr.nn.Parameter(np.ones(4))
    single.grad = np.full(4, 2.0)
    assert tr.nn.utils.clip_grad_norm_(single, 1.0) == pytest.approx(4.0)  # one tensor


def test_clip_grad_norm_nonfinite_raises_unless_asked_not_to():
    w = tr.nn.Parameter(np.zeros(2))
    w.grad = np.array([np.inf, 1.0])
    with pytest.raises(FloatingPointError, match="error_if_nonfinite"):
        tr.nn.utils.clip_grad_norm_([w], 1.0)
    with np.errstate(invalid="ignore"):  # inf * 0: NaN gradients, as torch gives
        assert tr.nn.utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=False) == math.inf
    assert np.isnan(w.grad[0]) and w.grad[1] == 0
