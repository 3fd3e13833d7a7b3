"""Which engine ``auto`` serves on this machine: the ranking ``export`` measured, or a rule by CPU flags.

``export`` times every accepted engine on the machine it runs on and records the ranking in
``exports/export.json`` together with that CPU (model name, family and model number, and the flags
below). A Classifier loaded on the same CPU serves the fastest measured engine. On any other CPU
it does not trust that ranking and re-measures nothing (cost: 0 s); it applies this rule,
taking the first engine that passed its export check, whose package is installed and whose file
is present, and ``torch`` if none:

===========================  =========================================================
CPU flags                    order
===========================  =========================================================
amx_bf16/amx_tile or         openvino-int8, openvino, torch-bf16, onnx-int8, onnx
avx512_bf16                  (OpenVINO runs its default bf16 there; issue 33: 7.4x / 6.8x)
avx512_vnni                  openvino-int8, onnx-int8, openvino, onnx
                             (emulated: OpenVINO at f32 on a BF16 CPU, docs/benchmarks.md)
AVX2 only (or anything else) onnx-int8, onnx, openvino, openvino-int8
                             (two AMD EPYC cores: first, or 0.98x the first)
===========================  =========================================================

Cloud machines often show a CPU by a generic name ("AMD EPYC") with the same flags on different
cores, so the family and model number are part of the identity: on two such AVX2-only EPYCs the
same model ran onnx-int8 at 1.64x openvino fp32 (family 25) and at 0.98x (family 23)
(docs/benchmarks.md). A ranking recorded without them is not trusted.

The export check's verdict (which engines are accepted) is trusted on every CPU. What changes the
arithmetic between CPUs: OpenVINO's bf16 where the CPU has it (1.000 of fp32's labels in every
measured table), and ONNX Runtime's int8 on CPUs without VNNI (saturating int16 pair sums), which
on an AVX2-only EPYC moved one label in 500 more than a VNNI CPU's int32 sums would
(docs/benchmarks.md, "int8 on CPUs without VNNI"). NNCF's int8 is slower than OpenVINO's fp32
there, so the AVX2 rule puts it last.

On a GPU ``auto`` is always ``torch``, which serves fp16 or bf16 as the card supports.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

# The CPU flags that decide which kernels an engine gets (as /proc/cpuinfo spells them).
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
RULES = {
    "bf16": ("openvino-int8", "openvino", "torch-bf16", "onnx-int8", "onnx"),
    "vnni": ("openvino-int8", "onnx-int8", "openvino", "onnx"),
    "avx2": ("onnx-int8", "onnx", "openvino", "openvino-int8"),
}
RULE_NAMES = {
    "bf16": "rule for CPUs with AMX or AVX-512 BF16",
    "vnni": "rule for AVX-512 VNNI CPUs",
    "avx2": "rule for AVX2-only CPUs",
}
# The package each engine imports (auto skips an engine whose package is missing).
PACKAGES = {
    "onnx": "onnxruntime",
    "onnx-int8": "onnxruntime",
    "openvino": "openvino",
    "openvino-int8": "openvino",
}
INSTALL = {
    "onnxruntime": "pip install onnxruntime",
    "openvino": "pip install openvino",
}


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict:
    """{"model": the CPU's model name, "family" and "model_number" (as /proc/cpuinfo's "cpu family"
    and "model"), "flags": the FLAGS it has}, from /proc/cpuinfo (Linux); elsewhere the model from
    platform, empty family and number, and no flags (so the AVX2 rule applies)."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():  # the first processor's fields
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    model = fields.get("model name", "")
    if not model:
        import platform

        model = platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    return {
        "model": model,
        "family": fields.get("cpu family", ""),
        "model_number": fields.get("model", ""),
        "flags": [flag for flag in FLAGS if flag in flags],
    }


def has_native_bf16(info: dict | None = None) -> bool:
    flags = set((info or cpu_info())["flags"])
    return bool(flags & {"avx512_bf16", "amx_bf16", "amx_tile"})


def cpu_kind(info: dict | None = None) -> str:
    """Which row of the rule applies: "bf16", "vnni" or "avx2"."""
    flags = set((info or cpu_info())["flags"])
    if has_native_bf16(info):
        return "bf16"
    return "vnni" if "avx512_vnni" in flags else "avx2"


def describe_cpu(info: dict | None = None) -> str:
    info = info or cpu_info()
    return f"{cpu_name(info)}, {' '.join(info['flags']) or 'no AVX2'}"


def cpu_name(info: dict) -> str:
    """The model name, with the family and model number when known ("AMD EPYC, family 23 model 49")."""
    if not info.get("family"):
        return info["model"]
    return f"{info['model']}, family {info['family']} model {info.get('model_number', '')}"


def package_installed(engine: str) -> bool:
    """Whether ``engine``'s package can be imported, found without importing it."""
    package = PACKAGES.get(engine)
    return package is None or importlib.util.find_spec(package) is not None


def same_cpu(measured: dict | None, info: dict | None = None) -> bool:
    info = info or cpu_info()
    return (
        bool(measured)
        and all(measured.get(key, "") == info.get(key, "") for key in ("model", "family", "model_number"))
        and sorted(measured.get("flags", [])) == sorted(info["flags"])
    )


def choose_auto(usable: list[str], ranking: dict | None, info: dict | None = None) -> tuple[str, str]:
    """(engine, why) for ``auto`` on the CPU: ``usable`` are the engines that passed their export
    checks, have their package and their file; ``ranking`` is export.json's ``ranking``."""
    info = info or cpu_info()
    allowed = {*usable, "torch", *(["torch-bf16"] if has_native_bf16(info) else [])}
    if ranking and same_cpu(ranking.get("cpu"), info):
        for row in ranking.get("engines", []):
            if row.get("engine") in allowed:
                short = f"{cpu_name(info)}, {cpu_kind(info)}"
                return row["engine"], f"{row['engine']}: fastest measured on this CPU ({short}) at export"
    if not usable:
        return "torch", "no usable export: torch"
    kind = cpu_kind(info)
    for name in RULES[kind]:
        if name in usable or (name == "torch-bf16" and kind == "bf16"):
            return name, f"{name}: {RULE_NAMES[kind]} ({describe_cpu(info)})"
    return "torch", f"torch: {RULE_NAMES[kind]} found no usable export"
