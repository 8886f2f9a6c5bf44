"""TextRank over sentences: TF-IDF cosine similarity graph + PageRank by power iteration."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


def tfidf_rows(docs: Sequence[Sequence[str]]) -> np.ndarray:
    """Dense, L2-normalised TF-IDF rows (the vocabulary of one conversation is small)."""
    vocab = {term: i for i, term in enumerate(sorted({t for doc in docs for t in doc}))}
    matrix = np.zeros((len(docs), len(vocab)))
    if not vocab:
        return matrix
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(set(doc))
    n = len(docs)
    for row, doc in enumerate(docs):
        for term, count in Counter(doc).items():
            matrix[row, vocab[term]] = (1 + math.log(count)) * (math.log((1 + n) / (1 + df[term])) + 1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def pagerank(similarity: np.ndarray, *, damping: float = 0.85, tol: float = 1e-6, max_iter: int = 100) -> np.ndarray:
    n = similarity.shape[0]
    if n == 0:
        return np.zeros(0)
    weights = similarity.copy()
    np.fill_diagonal(weights, 0.0)
    sums = weights.sum(axis=1, keepdims=True)
    # A sentence that shares nothing with the others spreads its vote evenly.
    transition = np.where(sums > 0, weights / np.where(sums == 0, 1, sums), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        new = (1 - damping) / n + damping * transition.T @ rank
        if np.abs(new - rank).sum() < tol:
            return new
        rank = new
    return rank


def textrank(docs: Sequence[Sequence[str]]) -> np.ndarray:
    """Centrality score of each sentence (sums to 1)."""
    rows = tfidf_rows(docs)
    return pagerank(rows @ rows.T)
