"""Text data for the sentiment workflow: preprocessing, vocabulary, batching, corpora."""
from .batching import BucketIterator, pad_batch, train_valid_split
from .reviews import load_aclimdb, load_csv, make_synthetic_imdb
from .text import preprocess, tokenize
from .vocab import PAD, UNK, Vocab

__all__ = ["preprocess", "tokenize", "Vocab", "UNK", "PAD", "pad_batch", "BucketIterator",
           "train_valid_split", "load_aclimdb", "load_csv", "make_synthetic_imdb"]
