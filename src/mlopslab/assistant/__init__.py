"""The course assistant's pure parts: passages, the index, answers, scorers.

Retrieval-augmented extractive answering, with no generative model: a TF-IDF
index over the course's lesson sections and glossary entries finds the
passages, and the answer is their best-matching sentences, each with its
citation, laid out by a prompt template. Values in, typed results out: no
MLflow, no workspace, no network (the flows in `flows/assistant*.py` do that).
"""
