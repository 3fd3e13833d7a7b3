"""Trainer callbacks of the training run: stop at once on a non-finite loss, and print how long
training will take once a typical stretch of steps has been timed.

    callbacks = training_callbacks(timed_steps(len(train_set), config.batch_size))
"""

from __future__ import annotations

import math
import time

from ..errors import TrainingDivergedError


def timed_steps(train_samples: int, batch_size: int) -> int:
    """Steps until the Trainer's first length-grouped megabatch is done. Its sampler sorts each
    megabatch longest first (transformers' ``get_length_grouped_indices``: 50 batches, or a quarter
    of the data if that is less), so the first few steps are the slowest of the run and only a
    whole megabatch, a random sample of the reviews, times a typical step."""
    return max(1, min(train_samples // (batch_size * 4), 50))


def training_callbacks(estimate_after: int, clock=time.perf_counter):
    from transformers import TrainerCallback

    class StopOnNonFiniteLoss(TrainerCallback):
        """A NaN or infinite loss poisons every later step: stop at once, save nothing."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(loss):
                raise TrainingDivergedError(
                    f"The training loss became {loss} at step {state.global_step}; nothing was "
                    "saved. Lower --learning-rate or check the data."
                )

    class EstimateTime(TrainerCallback):
        """Print the expected training time once ``estimate_after`` steps have been timed."""

        started = first_step = None

        def on_step_begin(self, args, state, control, **kwargs):
            if self.started is None:  # the first step of this run (a resumed one starts later)
                self.started, self.first_step = clock(), state.global_step

        def on_step_end(self, args, state, control, **kwargs):
            done = state.global_step - self.first_step
            if done == estimate_after and state.global_step < state.max_steps and state.is_world_process_zero:
                per_step = (clock() - self.started) / done
                minutes = per_step * (state.max_steps - self.first_step) / 60
                print(
                    f"Estimated training time: {minutes:.1f} min for {state.max_steps - self.first_step} "
                    f"steps (timed over the first {done})."
                )

    return [StopOnNonFiniteLoss(), EstimateTime()]
