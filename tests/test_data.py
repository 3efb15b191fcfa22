"""Text preprocessing, vocabulary, batching and the corpus loaders."""
import numpy as np
import pytest

from tinyrnn.data import (BucketIterator, Vocab, load_aclimdb, load_csv, make_synthetic_imdb,
                          pad_batch, preprocess, tokenize, train_valid_split)


def test_preprocess_follows_the_chapter():
    text = "A GREAT film!<br /><br />Really... isn't it?<br>Yes"
    assert tokenize(text) == ["a", "great", "film", "really", "isn", "t", "it", "yes"]
    assert "<br" not in preprocess(text) and "!" not in preprocess(text)
    assert tokenize("  ...  ") == []
    with pytest.raises(TypeError):
        tokenize(None)


def test_vocab_build_encode_save_load(tmp_path):
    docs = [["b", "a", "a"], ["c", "a", "b"], ["d"]]
    v = Vocab.build(docs, max_size=2, min_freq=1)
    assert v.itos == ["<unk>", "<pad>", "a", "b"]  # most frequent first, ties by name
    assert list(v.encode(["a", "zzz", "b"])) == [2, 0, 3]
    assert Vocab.build(docs, min_freq=2).itos == ["<unk>", "<pad>", "a", "b"]
    v.save(tmp_path / "vocab.json")
    w = Vocab.load(tmp_path / "vocab.json")
    assert w.itos == v.itos and w.stoi == v.stoi and len(w) == 4
    (tmp_path / "bad.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a saved Vocab"):
        Vocab.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(docs, min_freq=0)


def test_pad_batch_and_lengths():
    tokens, lengths = pad_batch([[5, 6, 7], [8], []], pad_index=1)
    assert tokens.tolist() == [[5, 6, 7], [8, 1, 1], [1, 1, 1]]
    assert lengths.tolist() == [3, 1, 1]
    tokens, lengths = pad_batch([[1, 2, 3, 4]], max_len=2)
    assert tokens.shape == (1, 2) and lengths.tolist() == [2]


def test_bucket_iterator_is_seeded_complete_and_bucketed():
    rng = np.random.default_rng(0)
    seqs = [list(range(2, 2 + int(n))) for n in rng.integers(1, 100, size=500)]
    labels = np.arange(500) % 2

    def epoch(seed):
        it = BucketIterator(seqs, labels, batch_size=20, seed=seed)
        return [b for b in it]

    a, b = epoch(3), epoch(3)
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b))  # same seed, same order
    assert len(a) == 25 and sum(len(x[2]) for x in a) == 500
    padding = np.mean([(x[0] == 1).mean() for x in a])
    assert padding < 0.1  # bucketing keeps padding low (random batches: ~50%)
    c = epoch(4)
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(a, c))


def test_train_valid_split():
    train, valid = train_valid_split(100, 0.2, seed=1)
    assert len(train) == 80 and len(valid) == 20
    assert sorted(np.r_[train, valid].tolist()) == list(range(100))


def test_aclimdb_layout_and_synthetic_corpus(tmp_path):
    root = make_synthetic_imdb(tmp_path / "a", n_train=10, n_test=6, seed=5)
    texts, labels = load_aclimdb(root, "train")
    assert len(texts) == 10 and labels.tolist() == [0] * 5 + [1] * 5
    test_texts, _ = load_aclimdb(root, "test")
    assert len(test_texts) == 6
    again = make_synthetic_imdb(tmp_path / "b", n_train=10, n_test=6, seed=5)
    assert load_aclimdb(again, "train")[0] == texts  # deterministic
    assert any("<br />" in t for t in texts + test_texts)  # the chapter's markup is there
    assert all(tokenize(t) for t in texts)
    with pytest.raises(FileNotFoundError, match="train/pos"):
        load_aclimdb(tmp_path / "nothing", "train")


def test_csv_loader(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('review,sentiment\n"Great, great film",positive\nAwful,negative\nOk,1\n')
    texts, labels = load_csv(path)
    assert texts[0] == "Great, great film" and labels.tolist() == [1, 0, 1]
    path.write_text("review,sentiment\nHm,maybe\n")
    with pytest.raises(ValueError, match="label 'maybe'"):
        load_csv(path)
    with pytest.raises(ValueError, match="no column 'text'"):
        load_csv(path, text_column="text")
