"""TF-IDF features (word and character n-grams) that serialise to plain JSON.

The same code builds the training matrix and the vector of one message at inference,
so what the classifier learned and what it sees can never drift apart. The word block
and the character block are each L2-normalised, then laid side by side.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hitl_crm.ai.nlp.text import tokens

_SPACES = re.compile(r"\s+")


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    toks = tokens(text)
    grams: list[str] = []
    for n in range(low, high + 1):
        grams.extend("w " + " ".join(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return grams


def char_ngrams(text: str, low: int, high: int) -> list[str]:
    """Character n-grams inside word boundaries (padded with a space), robust to typos."""
    grams: list[str] = []
    for word in _SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) < n:
                break
            grams.extend("c " + padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


@dataclass
class Featurizer:
    """Maps text to a sparse TF-IDF vector over a fixed vocabulary."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    word_range: tuple[int, int] = (1, 2)
    char_range: tuple[int, int] = (2, 5)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        *,
        word_range: tuple[int, int] = (1, 2),
        char_range: tuple[int, int] = (2, 5),
        word_min_df: int = 1,
        char_min_df: int = 2,
    ) -> Featurizer:
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(word_ngrams(text, *word_range)) | set(char_ngrams(text, *char_range)))
        kept = sorted(
            term for term, count in df.items() if count >= (word_min_df if term.startswith("w ") else char_min_df)
        )
        n_docs = len(texts)
        idf = np.array([math.log((1 + n_docs) / (1 + df[term])) + 1.0 for term in kept])
        return cls({term: i for i, term in enumerate(kept)}, idf, word_range, char_range)

    def _block(self, grams: Iterable[str]) -> dict[int, float]:
        counts: Counter[int] = Counter()
        for gram in grams:
            index = self.vocabulary.get(gram)
            if index is not None:
                counts[index] += 1
        weights = {i: (1.0 + math.log(c)) * float(self.idf[i]) for i, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        return {i: w / norm for i, w in weights.items()} if norm else {}

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Indices and values of the non-zero features of ``text``."""
        merged = self._block(word_ngrams(text, *self.word_range))
        merged.update(self._block(char_ngrams(text, *self.char_range)))
        indices = np.fromiter(merged.keys(), dtype=np.int64, count=len(merged))
        values = np.fromiter(merged.values(), dtype=np.float64, count=len(merged))
        return indices, values

    def matrix(self, texts: Sequence[str]) -> Any:
        """A SciPy CSR matrix for training (SciPy ships with scikit-learn)."""
        from scipy.sparse import csr_matrix

        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for row, text in enumerate(texts):
            idx, val = self.vector(text)
            rows.extend([row] * len(idx))
            cols.extend(idx.tolist())
            vals.extend(val.tolist())
        return csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.vocabulary)))

    def to_params(self) -> dict[str, Any]:
        terms = [""] * len(self.vocabulary)
        for term, index in self.vocabulary.items():
            terms[index] = term
        return {
            "terms": terms,
            "idf": [round(float(x), 6) for x in self.idf],
            "word_range": list(self.word_range),
            "char_range": list(self.char_range),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Featurizer:
        return cls(
            {term: i for i, term in enumerate(params["terms"])},
            np.asarray(params["idf"], dtype=np.float64),
            tuple(params["word_range"]),
            tuple(params["char_range"]),
        )
