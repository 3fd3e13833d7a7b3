"""Training: fine-tune a classifier with its lower layers frozen and save it (``imdb-sentiment train``).

- ``train.py``           the flow, as named steps: ``train(TrainConfig(...)) -> TrainResult``;
- ``arguments.py``       the Trainer's arguments and the recipe line printed before training;
- ``counterfactuals.py`` counterfactual pairs mixed into the training data;
- ``lora.py``            LoRA adapters, the other way to train few weights;
- ``callbacks.py``       stop on a non-finite loss, print the estimated time;
- ``checkpoints.py``     per-epoch checkpoints for ``--resume``;
- ``calibrate.py``       Platt scaling on validation, folded into the output layer;
- ``scoring.py``         the datasets the Trainer reads and the validation/test scores;
- ``save.py``, ``card.py``, ``plots.py``  what ``saved_model/`` holds besides the weights;
- ``sweep.py``, ``sweep_report.py``       ``imdb-sentiment sweep``: one model per freezing setting.

The public entry points are re-exported at the top: ``from imdb_sentiment import TrainConfig, train``.
"""
