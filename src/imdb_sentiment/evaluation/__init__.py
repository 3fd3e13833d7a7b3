"""Evaluation: the numbers a model is judged by.

- ``metrics.py``      accuracy, precision, recall, F1, ROC AUC (scikit-learn, computed locally);
- ``pairs.py``        counterfactual pairs: accuracy on originals, on edits, and pairs right on both;
- ``check.py``        the behavioural check (``imdb-sentiment check``), its cases in ``check_suite.py``;
- ``report.py``       the one Markdown-table writer for every printed table.
"""
