"""imdb-sentiment: fine-tune a transformer sentiment classifier with frozen lower layers, and serve it.

from imdb_sentiment import TrainConfig, train, Classifier
train(TrainConfig(model="distilbert-base-uncased", data="stanfordnlp/imdb"))
Classifier.from_pretrained("saved_model").predict(["What a film!"])
"""

from .config import TrainConfig, resolve_config
from .data import Splits, load_splits
from .errors import HubUnreachableError, TrainingDivergedError, UserError
from .evaluation.metrics import classification_metrics
from .model import freeze_lower_layers, load_model, load_tokenizer
from .serving.classifier import Classifier, Prediction
from .text import Encoder, InvalidTextError, clean_text
from .training.train import TrainResult, train

__all__ = [
    "Classifier",
    "Encoder",
    "HubUnreachableError",
    "InvalidTextError",
    "Prediction",
    "Splits",
    "TrainConfig",
    "TrainResult",
    "TrainingDivergedError",
    "UserError",
    "classification_metrics",
    "clean_text",
    "freeze_lower_layers",
    "load_model",
    "load_splits",
    "load_tokenizer",
    "resolve_config",
    "train",
]
__version__ = "0.1.0"
