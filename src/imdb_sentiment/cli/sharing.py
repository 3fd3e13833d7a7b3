"""``push``: publish a saved model to the Hugging Face Hub (and its app as a Space); ``train
--push-to-hub``: the same at the end of a successful training.

imdb-sentiment push --model-dir saved_model --repo-id me/imdb --space me/imdb-demo
imdb-sentiment push --model-dir saved_model --repo-id me/imdb --space me/imdb-demo --dry-run out
imdb-sentiment train --push-to-hub me/imdb
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence


def push_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imdb-sentiment push",
        allow_abbrev=False,
        description="Push a saved model folder to a Hugging Face Hub model repo: the safetensors weights, "
        "the tokenizer, config.json, metrics.json, training_config.json, the plots, the card and TensorBoard's "
        "event files; never checkpoints or pickle files. The token comes from HF_TOKEN or `hf auth login`.",
    )
    parser.add_argument("--model-dir", default="saved_model", help="The saved model folder to push.")
    parser.add_argument("--repo-id", required=True, help="The model repo, owner/name (created if missing).")
    parser.add_argument("--private", action="store_true", help="Create the repo(s) private.")
    parser.add_argument("--revision", default=None, help="Branch to push the model to (default: main).")
    parser.add_argument("--commit-message", default=None, help="The commit message on the Hub.")
    parser.add_argument(
        "--space",
        default=None,
        metavar="OWNER/NAME",
        help="Also publish the Gradio app serving it as this Space.",
    )
    parser.add_argument(
        "--include-exports",
        action="store_true",
        help="Also upload the ONNX / OpenVINO exports (exports/).",
    )
    parser.add_argument(
        "--dry-run",
        default=None,
        metavar="OUT",
        help="Upload nothing: write what would be uploaded to OUT/model/ and OUT/space/.",
    )
    return parser


def run_push(argv: Sequence[str]) -> int:
    from ..sharing.hub import push

    args = push_parser().parse_args(list(argv))
    result = push(
        args.model_dir,
        args.repo_id,
        private=args.private,
        revision=args.revision,
        commit_message=args.commit_message,
        space_id=args.space,
        include_exports=args.include_exports,
        dry_run=args.dry_run,
    )
    report(result, args.private)
    return 0


def report(result, private: bool = False) -> None:
    for note in result.notes:
        print(f"note: {note}")
    if private and result.space_id:
        print("note: the model is private: give the Space an HF_TOKEN secret that can read it.")
    files = f"{len(result.model_files)} files ({', '.join(result.model_files)})"
    if result.dry_run is not None:
        space = (
            f" and {result.dry_run / 'space'} ({len(result.space_files)} files)" if result.space_id else ""
        )
        print(f"Dry run, nothing uploaded: wrote {result.dry_run / 'model'}: {files}{space}.")
        return
    print(f"Pushed {files} to https://huggingface.co/{result.repo_id}")
    if result.space_id:
        print(f"Published the app at https://huggingface.co/spaces/{result.space_id}")


def run_train(argv: Sequence[str]) -> int:
    """``train``, and with ``--push-to-hub`` the token and the repo's owner checked before training
    and the model pushed after it, from process 0 only. Training itself is ``cli.training``'s."""
    from ..config import HUB_REPO_ID
    from ..sharing.hub import preflight, push
    from .training import parse_train_config
    from .training import run_train as train_only

    config = parse_train_config(argv)
    main_process = int(os.environ.get("RANK", "0")) == 0
    repo_id = config.push_to_hub
    if repo_id and main_process and HUB_REPO_ID.match(repo_id):  # a bad id is the config's error
        preflight(repo_id)
    code = train_only(argv)
    if code == 0 and repo_id and main_process:
        report(push(config.output_dir, repo_id))
    return code
