"""The tinyrnn command: --version, defaults in every --help, progress on stderr."""
import argparse
import re
import subprocess
import sys

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.cli import build_parser, main
from tinyrnn.workflows import forecast, progress

COMMANDS = ("sentiment", "arima", "forecast", "gradcheck", "bench")


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"tinyrnn {tr.__version__}"
    out = subprocess.run([sys.executable, "-m", "tinyrnn", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert re.fullmatch(r"tinyrnn \d+\.\d+\.\d+\S*\n", out)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_shows_every_default(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # unwrap argparse's lines
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    shown = 0
    for action in sub._actions:
        default = action.default
        if not action.option_strings or default is None or default is False \
                or default == argparse.SUPPRESS:
            continue
        assert f"(default: {default})" in text, (command, action.dest)
        shown += 1
    assert shown


def test_sentiment_help_names_the_issue_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["sentiment", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, default in (("--epochs", 10), ("--hidden", 128), ("--lr", 0.002),
                            ("--layers", 2), ("--batch-size", 32)):
        assert re.search(rf"{option} \S+ .*?\(default: {default}\)", text), option


def test_stage_lines_without_tqdm(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_tqdm", lambda: None)  # as if tqdm were not installed
    assert list(progress.progress(range(3), "three steps")) == [0, 1, 2]
    progress.stage("a stage")
    progress.stage("hidden", enabled=False)
    assert list(progress.progress([1], "quiet", enabled=False)) == [1]
    captured = capsys.readouterr()
    assert captured.err == "tinyrnn: three steps\ntinyrnn: a stage\n" and captured.out == ""


def test_tqdm_bar_on_a_terminal(monkeypatch):
    tqdm = pytest.importorskip("tqdm", reason="tqdm is not installed (pip install tqdm)")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = progress.progress(range(4), "epochs")
    assert isinstance(bar, tqdm.tqdm) and list(bar) == [0, 1, 2, 3]


def test_forecast_reports_each_stage_on_stderr(monkeypatch, capsys):
    """The command that used to print nothing for 20 s: each series' stages on stderr."""
    monkeypatch.setattr(progress, "_tqdm", lambda: None)
    result = forecast.RNNForecast(np.zeros(2), np.zeros(2), 0.0, 0.0)
    monkeypatch.setattr(forecast, "walk_forward", lambda y, **kw: type(
        "WF", (), {"expected": np.zeros(2), "rmse": 0.0, "train_size": len(y) - 2})())

    def fake_rnn(*args, show_progress=False, **kwargs):
        list(progress.progress(range(3), "training the RNN forecaster (3 epochs)",
                               show_progress))
        return result
    monkeypatch.setattr(forecast, "rnn_walk_forward", fake_rnn)
    main(["forecast", "--series", "shampoo", "nile"])
    captured = capsys.readouterr()
    assert "| shampoo |" in captured.out and "tinyrnn:" not in captured.out
    lines = captured.err.splitlines()
    assert lines == ["tinyrnn: shampoo (1/2): ARIMA(5, 1, 0) walk-forward",
                     "tinyrnn: training the RNN forecaster (3 epochs)",
                     "tinyrnn: nile (2/2): ARIMA(1, 1, 1) walk-forward",
                     "tinyrnn: training the RNN forecaster (3 epochs)"]


def test_rnn_forecaster_reports_its_training(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_tqdm", lambda: None)
    y = np.sin(np.arange(40) / 3.0) + np.arange(40) / 10
    forecast.rnn_walk_forward(y, window=3, epochs=2, hidden=4, show_progress=True)
    forecast.rnn_walk_forward(y, window=3, epochs=2, hidden=4)  # silent by default
    # (A cold Numba cache adds its one compilation notice, whichever test compiles first.)
    said = [line for line in capsys.readouterr().err.splitlines()
            if not line.startswith("tinyrnn: compiling")]
    assert said == ["tinyrnn: training the RNN forecaster (2 epochs)"]
