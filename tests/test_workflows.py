"""The chapter's workflows end to end, and the tinyrnn command."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.cli import main
from tinyrnn.workflows.forecast import builtin_series, compare, rnn_walk_forward, \
    sliding_windows
from tinyrnn.workflows.sentiment import CellClassifier, RNNClassifier, SentimentConfig, \
    train_sentiment


def test_multilayer_rnn_classifier_learns_the_synthetic_corpus():
    """The default workflow (2-layer RNN, 1500 training and 600 test reviews) must learn."""
    figures = train_sentiment(SentimentConfig(seed=0, progress=False), log=lambda *a: None)
    assert figures["test_accuracy"] >= 0.85
    assert figures["history"][0]["train_loss"] > figures["history"][-1]["train_loss"]


def test_both_models_use_each_reviews_last_real_token():
    tr.manual_seed(0)
    tokens = np.array([[5, 6, 7, 1, 1], [5, 6, 7, 8, 9]])
    for model in (RNNClassifier(12, 4, 6, num_layers=2, dropout=0.0), CellClassifier(12, 4, 6)):
        model.eval()
        short = model(tokens[:1, :3], np.array([3])).data
        padded = model(tokens, np.array([3, 5])).data
        np.testing.assert_allclose(padded[0], short[0], rtol=1e-5, atol=1e-6)


def test_cell_model_and_checkpoint(tmp_path):
    ckpt = tmp_path / "best.npz"
    root = tmp_path / "corpus"
    from tinyrnn.data import make_synthetic_imdb
    make_synthetic_imdb(root, n_train=60, n_test=20, seed=1, min_len=10, max_len=20)
    figures = train_sentiment(SentimentConfig(data=str(root), model="cell", epochs=2,
                                              hidden=16, embed=8, checkpoint=str(ckpt),
                                              progress=False), log=lambda *a: None)
    assert 0.0 <= figures["test_accuracy"] <= 1.0 and len(figures["history"]) == 2
    assert set(tr.load(ckpt)) >= {"embedding.weight", "cell.weight_hh"}


def test_forecasting_windows_and_comparison(tmp_path):
    inputs, targets = sliding_windows(np.arange(6.0), 3)
    assert inputs.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]] and targets.tolist() == [3, 4, 5]
    series = builtin_series()
    y = series["shampoo"][0]
    res = rnn_walk_forward(y, window=4, epochs=50)
    assert len(res.predictions) == 13 and np.all(np.isfinite(res.predictions))
    rows = compare({"shampoo": series["shampoo"]}, epochs=50, plot=str(tmp_path / "f.png"))
    assert rows[0]["arima_rmse"] == pytest.approx(89.02, abs=0.05)
    assert rows[0]["arima_rmse"] < rows[0]["naive_rmse"]
    assert (tmp_path / "f.png").stat().st_size > 0


def test_cli_arima_walk_forward_prints_the_chapter_mse(tmp_path, capsys):
    from tinyrnn.arima import load_shampoo
    csv = tmp_path / "shampoo.csv"
    csv.write_text("month,sales\n" + "".join(f"{i},{v}\n" for i, v in enumerate(load_shampoo())))
    out = tmp_path / "wf.json"
    main(["arima", str(csv), "--column", "sales", "--order", "5", "1", "0", "--walk-forward",
          "--json", str(out), "--plot", str(tmp_path / "wf.png")])
    printed = capsys.readouterr().out
    mse = float(re.search(r"Test MSE: ([0-9.]+)", printed).group(1))
    assert mse == pytest.approx(7924.748, abs=0.5)  # statsmodels 0.15's figure
    assert json.loads(out.read_text())["mse"] == pytest.approx(7924.7, abs=0.5)
    main(["arima", str(csv), "--order", "1", "1", "1", "--steps", "2"])
    assert "ma.L1" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no column"):
        main(["arima", str(csv), "--column", "nope", "--order", "1", "0", "0"])


def test_cli_sentiment_forecast_gradcheck_smoke(tmp_path, capsys):
    from tinyrnn.data import make_synthetic_imdb
    root = make_synthetic_imdb(tmp_path / "c", n_train=40, n_test=20, seed=2, min_len=8,
                               max_len=16)
    out = tmp_path / "s.json"
    main(["sentiment", "--data", root, "--epochs", "1", "--hidden", "8", "--json", str(out)])
    assert 0 <= json.loads(out.read_text())["test_accuracy"] <= 1
    main(["forecast", "--series", "shampoo", "--epochs", "20", "--json", str(tmp_path / "f.json")])
    assert "| shampoo |" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["gradcheck", "--examples", "2"])
    assert done.value.code == 0
    with pytest.raises(SystemExit):
        main(["forecast", "--series", "nope"])


def test_python_dash_m_and_help():
    done = subprocess.run([sys.executable, "-m", "tinyrnn", "--help"], capture_output=True,
                          text=True, check=True)
    for command in ("sentiment", "memory", "arima", "forecast", "gradcheck", "warmup",
                    "bench"):
        assert command in done.stdout
    done = subprocess.run([sys.executable, "-m", "tinyrnn", "arima", "--help"],
                          capture_output=True, text=True, check=True)
    assert "--walk-forward" in done.stdout and "--order" in done.stdout
