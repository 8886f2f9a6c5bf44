"""Okapi BM25 over a handful of documents (knowledge articles, approved replies).

Our own ~40 lines rather than a package: the corpus is small and handed in per call, and
using :func:`hitl_crm.ai.nlp.text.content_terms` for both documents and queries means
tokenisation can never differ between them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


class BM25:
    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.tfs = [Counter(doc) for doc in documents]
        self.lengths = np.array([len(doc) for doc in documents], dtype=np.float64)
        self.avgdl = float(self.lengths.mean()) if len(documents) and self.lengths.mean() else 1.0
        df: Counter[str] = Counter()
        for tf in self.tfs:
            df.update(tf.keys())
        n = len(documents)
        # The "plus one" form keeps every idf positive, even for a term in most documents.
        self.idf = {term: math.log(1 + (n - count + 0.5) / (count + 0.5)) for term, count in df.items()}

    def scores(self, query: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(self.tfs))
        norm = self.k1 * (1 - self.b + self.b * self.lengths / self.avgdl)
        for term in set(query):
            idf = self.idf.get(term)
            if idf is None:
                continue
            freqs = np.array([tf.get(term, 0) for tf in self.tfs], dtype=np.float64)
            out += idf * freqs * (self.k1 + 1) / (freqs + norm)
        return out

    def coverage(self, query: Sequence[str], index: int) -> float:
        """Share of the query's terms that document ``index`` contains, 0..1, rare terms weighing more.

        Raw BM25 scores are unbounded and depend on the corpus; this is the comparable
        relevance figure the engine turns into confidence. Each term weighs ``1 + idf`` so that
        in a small, on-topic set of documents common words still count; a term no document
        has weighs like a typical one (the median idf): missing it counts."""
        terms = set(query)
        if not terms:
            return 0.0
        typical = float(np.median(list(self.idf.values()))) if self.idf else 1.0
        total = sum(1.0 + self.idf.get(t, typical) for t in terms)
        matched = sum(1.0 + self.idf[t] for t in terms if t in self.tfs[index])
        return matched / total
