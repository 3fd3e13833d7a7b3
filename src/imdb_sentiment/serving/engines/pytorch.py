"""The PyTorch engines: the saved safetensors model in eager mode (``torch``, the only GPU path),
and ``torch-int8``, dynamic int8 Linear layers made at load time.

    TorchBackend(model).logits(input_ids, attention_mask)
"""

from __future__ import annotations

import warnings

import numpy as np

from ...errors import UserError


class TorchBackend:
    """PyTorch eager; fp32, or whatever dtype the model already has."""

    name = "torch"

    def __init__(self, model, device: str = "cpu"):
        self.model = model
        self.device = device

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            output = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            )
        return output.logits.float().cpu().numpy()


class TorchInt8Backend(TorchBackend):
    """Dynamic int8 quantization of every Linear layer (weights int8, activations per batch)."""

    name = "torch-int8"

    def __init__(self, model, device: str = "cpu"):
        import torch

        if device != "cpu":
            raise UserError("backend torch-int8 runs on the CPU only; use --backend torch on a GPU.")
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated but still the CPU path
            warnings.simplefilter("ignore")
            quantized = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8, inplace=False
            )
        super().__init__(quantized.eval(), device)
