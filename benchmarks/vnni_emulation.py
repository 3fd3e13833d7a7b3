"""Experiment: the engine order on an AVX-512 VNNI CPU without native bf16, emulated on a CPU with
avx512_bf16 by compiling OpenVINO at f32 (what it runs on a CPU without bf16) and leaving torch-bf16
out. ONNX Runtime never computes in bf16, so its engines run as they would there.

    python benchmarks/vnni_emulation.py --n 64 --rounds 3

Two models, both exported by the project's ``export`` (only speed is compared here, so the checks'
verdicts do not matter): MiniLM with an untrained head at 512 tokens (the trained CPU model's
shape) and a random DistilBERT-sized model at 256 tokens. Each engine scores the same held-out
reviews through the same Classifier (tokenization included), length-sorted batches of 16, best of
``--rounds`` alternating rounds. Prints reviews/s and the ratio to ``onnx`` (fp32).
"""

from __future__ import annotations

import argparse
import copy
import shutil
import tempfile
from pathlib import Path

from common import build_random_distilbert, measure, minilm_path
from inference import held_out_reviews, lscpu, markdown


def minilm_untrained(directory: Path) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from imdb_sentiment.config import TrainConfig
    from imdb_sentiment.model import ID2LABEL, LABEL2ID

    model = AutoModelForSequenceClassification.from_pretrained(
        minilm_path(), num_labels=2, id2label=ID2LABEL, label2id=LABEL2ID
    )
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(directory)
    TrainConfig(model="minilm-untrained", max_length=512, device="cpu").save(directory)
    return directory


def runners(model_dir: Path) -> dict:
    from imdb_sentiment import Classifier
    from imdb_sentiment.serving.engines import export_path
    from imdb_sentiment.serving.engines.openvino import OpenVinoEngine

    base = Classifier.from_pretrained(model_dir, device="cpu", backend="onnx")
    out = {}

    def scorer(engine):
        wrapped = copy.copy(base)
        wrapped.backend = engine
        return lambda texts, b: wrapped.predict_logits(texts, batch_size=b).argmax(axis=1)

    for name in ("onnx", "onnx-int8"):
        out[name] = scorer(Classifier.from_pretrained(model_dir, device="cpu", backend=name).backend)
    for name in ("openvino", "openvino-int8"):
        path = export_path(model_dir, name)
        out[f"{name} f32 (as without bf16)"] = scorer(OpenVinoEngine(path, name, inference_precision="f32"))
        out[f"{name} bf16 (this CPU's default)"] = scorer(OpenVinoEngine(path, name))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from imdb_sentiment.serving.exporters import export_model, summary

    cpu = lscpu()
    print(f"# CPU: {cpu['model']}; flags: {' '.join(cpu['flags'])}; {cpu['cores']} threads", flush=True)
    texts = held_out_reviews(args.n, skip=500 - args.n)[0]
    work = Path(tempfile.mkdtemp(prefix="vnni-emulation-"))
    try:
        for name, build in (
            ("MiniLM, 512 tokens", minilm_untrained),
            ("DistilBERT-sized, 256 tokens", lambda d: build_random_distilbert(d, max_length=256)),
        ):
            model_dir = build(work / name.split(",")[0])
            print(f"  {name}: {summary(export_model(model_dir, max_check=50))}", flush=True)
            results = measure(runners(model_dir), texts, 16, args.rounds)
            base = results["onnx"][0]
            rows = [
                {"engine": engine, "reviews/s": args.n / s, "x onnx": base / s}
                for engine, (s, _) in results.items()
            ]
            print(f"\n## {name}, {args.n} reviews\n{markdown(rows)}\n", flush=True)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
