"""tr.save / tr.load: nested training checkpoints without pickle, old files, torch .pt files."""
import math
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.serialization import MANIFEST

try:
    import torch
except ImportError:  # the torch cases skip; the refusal without torch is tested in a child
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed "
                                 "(pip install torch) to write .pt files")


class Opaque:
    """Something torch pickles but ``weights_only=True`` will not unpickle."""


def _trained(seed=0):
    tr.manual_seed(seed)
    model = tr.nn.Sequential(tr.nn.Linear(3, 4), tr.nn.Tanh(), tr.nn.Linear(4, 2))
    opt = tr.optim.AdamW(model.parameters(), lr=0.01)
    sched = tr.optim.lr_scheduler.StepLR(opt, step_size=2)
    x = tr.tensor(np.random.default_rng(seed).standard_normal((5, 3)))
    for _ in range(3):
        opt.zero_grad()
        tr.nn.functional.cross_entropy(model(x), np.array([0, 1, 1, 0, 1])).backward()
        opt.step()
        sched.step()
    return model, opt, sched


def _same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def test_a_training_checkpoint_round_trips_and_resumes(tmp_path):
    model, opt, sched = _trained()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "epoch": 3, "best": 0.25, "note": "run A",
            "done": False, "parent": None, "history": [1.5, 1.25, (2, "x")],
            "nan": float("nan"), "inf": -math.inf, "empty": {}, "step": np.int64(7)}
    path = tmp_path / "ckpt.npz"
    tr.save(ckpt, path)
    back = tr.load(path)
    expected = dict(ckpt, model=dict(ckpt["model"]), step=np.array(7))
    _same(back, expected)
    assert set(back["optimizer"]["state"]) == {0, 1, 2, 3}  # integer keys survive
    with zipfile.ZipFile(path) as z:  # no pickle anywhere: .npy arrays and a JSON manifest
        assert all(name.endswith(".npy") for name in z.namelist())
    assert f"{MANIFEST}.npy" in zipfile.ZipFile(path).namelist()

    # Resuming from the file continues exactly like the run that never stopped.
    fresh, fresh_opt, fresh_sched = _trained(seed=9)
    fresh.load_state_dict(back["model"])
    fresh_opt.load_state_dict(back["optimizer"])
    fresh_sched.load_state_dict(back["scheduler"])
    for m, o, s in ((model, opt, sched), (fresh, fresh_opt, fresh_sched)):
        x = tr.tensor(np.ones((2, 3)))
        o.zero_grad()
        m(x).sum().backward()
        o.step()
        s.step()
    for p, q in zip(model.parameters(), fresh.parameters()):
        assert np.array_equal(p.data, q.data)
    assert sched.get_last_lr() == fresh_sched.get_last_lr()


def test_flat_state_dicts_keep_the_old_layout(tmp_path):
    model, _, _ = _trained()
    path = tmp_path / "weights.npz"
    tr.save(model.state_dict(), path)
    with np.load(path) as plain:  # readable by numpy alone, names as keys
        assert sorted(plain.files) == sorted(model.state_dict())
    old = tmp_path / "old.npz"  # what earlier tinyrnn versions wrote
    np.savez(old, **model.state_dict())
    _same(tr.load(old), dict(model.state_dict()))


def test_save_refuses_what_it_cannot_store_by_name(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint\['opt'\]\['f'\] is a builtin_function"):
        tr.save({"opt": {"f": print}}, tmp_path / "a.npz")
    with pytest.raises(TypeError, match="keys must be strings or integers"):
        tr.save({(1, 2): 3}, tmp_path / "b.npz")
    with pytest.raises(TypeError, match=r"checkpoint\['w'\] must be a numeric array"):
        tr.save({"w": np.array(["x"]), "epoch": 1}, tmp_path / "c.npz")
    with pytest.raises(TypeError, match="got int"):
        tr.save(3, tmp_path / "d.npz")
    with pytest.raises(TypeError, match=r"got Linear \(save its state_dict\(\)\)"):
        tr.save(tr.nn.Linear(2, 2), tmp_path / "e.npz")
    assert not list(tmp_path.iterdir())


@needs_torch
def test_torch_pt_files_are_recognised_and_loaded_with_weights_only(tmp_path):
    twin = torch.nn.RNN(3, 4, num_layers=2).double()
    for name, kwargs in (("new.pt", {}), ("legacy.pt", {"_use_new_zipfile_serialization": False})):
        path = tmp_path / name
        torch.save({"model": twin.state_dict(), "epoch": 5}, path, **kwargs)
        back = tr.load(path)
        assert back["epoch"] == 5
        ours = tr.nn.RNN(3, 4, num_layers=2).double()
        ours.load_state_dict(back["model"])  # NumPy arrays now
        for k, v in twin.state_dict().items():
            assert isinstance(back["model"][k], np.ndarray)
            assert np.array_equal(ours.state_dict()[k], v.numpy())
    path = tmp_path / "bare.pt"
    torch.save(twin.state_dict(), path)
    tr.nn.RNN(3, 4, num_layers=2).double().load_state_dict(tr.load(path))
    # weights_only=True refuses arbitrary objects; so does tr.load.
    torch.save({"obj": Opaque()}, tmp_path / "custom.pt")
    with pytest.raises(ValueError, match="PyTorch checkpoint that torch.load"):
        tr.load(tmp_path / "custom.pt")


@needs_torch
def test_torch_pt_without_torch_is_refused_by_name(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"w": torch.zeros(2)}, path)
    code = ("import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
            "import tinyrnn as tr\n"
            f"tr.load({str(path)!r})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "is a PyTorch checkpoint (torch.save); install torch" in done.stderr


def test_plain_pickles_are_still_refused(tmp_path):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": np.ones(2)}))
    with pytest.raises(ValueError, match="refused"):
        tr.load(path)
