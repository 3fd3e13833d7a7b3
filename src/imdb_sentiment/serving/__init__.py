"""Serving: everything that turns reviews into predictions goes through ``classifier.Classifier``.

- ``classifier.py``  the one inference path (cleaning, truncation, length-sorted batches, engines);
- ``engines/``       the inference engines (torch, ONNX Runtime, OpenVINO) and which one ``auto`` serves;
- ``exporters/``     ``imdb-sentiment export``: the engines' files, checked against fp32 and timed;
- ``app.py``         the Gradio app (``build_demo``), with ``trust.py``, ``what_if.py``,
                     ``refusals.py`` and ``downloads.py`` behind it;
- ``explain.py``     word attributions (Integrated Gradients);
- ``batch.py``       reading and writing files of reviews; ``scores.py``: probabilities from logits.

Nothing here imports training, evaluation or scale (``tests/test_imports.py``). ``Classifier`` is
re-exported at the top: ``from imdb_sentiment import Classifier``.
"""
