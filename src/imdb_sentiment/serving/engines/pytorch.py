"""The PyTorch engines around the saved safetensors model, in eager mode.

- ``torch``: fp32 on the CPU; on a GPU (``half=True``) fp16 or bf16 autocast as the card supports,
  by the capability table of training's ``precision.py`` (bf16 from compute capability 8.0, fp16
  on 7.x, fp32 below: no tensor cores there);
- ``torch-bf16``: bf16 autocast on CPUs with native bf16 (avx512_bf16 or AMX), where it is several
  times faster than fp32; ``choice.has_native_bf16`` decides, and elsewhere it is a UserError
  (emulated bf16 is slower than fp32).

    TorchBackend(model).logits(input_ids, attention_mask)
"""

from __future__ import annotations

import contextlib

import numpy as np

from ...errors import UserError


class TorchBackend:
    """PyTorch eager; fp32 weights, with fp16/bf16 autocast on a GPU when ``half``."""

    name = "torch"

    def __init__(self, model, device: str = "cpu", half: bool = False):
        self.model = model
        self.device = device
        self.precision = "fp32"
        if half and device != "cpu":
            from ...precision import choose_precision

            self.precision = choose_precision("auto", "cuda").dtype

    def _autocast(self):
        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.split(":")[0], dtype=dtype)

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode(), self._autocast():
            output = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            )
        return output.logits.float().cpu().numpy()


class TorchBf16Backend(TorchBackend):
    """bf16 autocast on the CPU (the weights stay fp32; matmuls run in bf16 on AMX / AVX-512 BF16)."""

    name = "torch-bf16"

    def __init__(self, model, device: str = "cpu"):
        if device != "cpu":
            raise UserError("backend torch-bf16 is for CPUs; on a GPU --backend torch serves fp16/bf16.")
        super().__init__(model, device)
        self.precision = "bf16"
