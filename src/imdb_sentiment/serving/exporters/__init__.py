"""Writing the files the exported engines serve, and the check every file must pass first.

- ``export.py``    the ``export`` command: every engine's file, checked and timed, in one rename;
- ``onnx.py``      the fp32 ONNX graph, ONNX Runtime's transformer fusions, dynamic int8;
- ``openvino.py``  OpenVINO IR and NNCF static int8;
- ``int8.py``      which matrix products both int8 files keep in float;
- ``smoothing.py`` SmoothQuant scales for ONNX Runtime's int8 up-projections;
- ``check.py``     each candidate against fp32 on real reviews, and the speed ranking on this CPU.

The serving side (reading these files) is ``serving/engines/``; nothing there imports this package,
whose tools (``onnx``, ONNX Runtime's quantizer, ``nncf``) are needed to export, never to serve.

    from imdb_sentiment.serving.exporters import export_model, summary
    print(summary(export_model("saved_model")))
"""

from .export import ExportReport, available_engines, export_after_training, export_model, summary

__all__ = ["ExportReport", "available_engines", "export_after_training", "export_model", "summary"]
