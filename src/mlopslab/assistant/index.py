"""The retriever: TF-IDF over the passages, ranked by cosine similarity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer

from mlopslab.assistant.corpus import Passage


@dataclass(frozen=True)
class Hit:
    """A passage and how well it matches a question (cosine, 0 to 1)."""

    passage: Passage
    score: float


class PassageIndex(BaseEstimator):
    """TF-IDF vectors of passages; `search` ranks them against a question.

    Follows scikit-learn's contract (`fit` returns self, learned state ends in
    `_`), so `get_params` records the index's settings in the run.
    """

    def __init__(
        self,
        ngram_max: int = 2,
        sublinear_tf: bool = True,
        stop_words: str | None = "english",
        title_weight: int = 2,
    ) -> None:
        self.ngram_max = ngram_max
        self.sublinear_tf = sublinear_tf
        self.stop_words = stop_words
        self.title_weight = title_weight

    def fit(self, passages: list[Passage]) -> PassageIndex:
        """Learn the vocabulary and the passage vectors."""
        self.vectorizer_ = TfidfVectorizer(
            ngram_range=(1, self.ngram_max),
            sublinear_tf=self.sublinear_tf,
            stop_words=self.stop_words,
        )
        # A title names what its passage is about: repeat it so it counts more.
        documents = [
            " ".join([p.title] * self.title_weight + [p.text]) for p in passages
        ]
        self.matrix_ = self.vectorizer_.fit_transform(documents)
        self.passages_ = list(passages)
        self.sources_ = frozenset(p.source for p in passages)
        return self

    def search(self, question: str, k: int) -> list[Hit]:
        """The k passages most like the question, best first (ties: course order)."""
        scores = self.similarity(question, self.matrix_)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Hit(self.passages_[i], float(scores[i])) for i in order]

    def sentence_scores(self, question: str, sentences: list[str]) -> np.ndarray:
        """How well each sentence matches the question, in the same vector space."""
        if not sentences:
            return np.zeros(0)
        return self.similarity(question, self.vectorizer_.transform(sentences))

    def similarity(self, question: str, matrix: object) -> np.ndarray:
        # TF-IDF rows are L2-normalised, so the dot product is the cosine.
        query = self.vectorizer_.transform([question])
        return np.asarray((matrix @ query.T).toarray()).ravel()
