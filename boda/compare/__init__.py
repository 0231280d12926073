"""The reference engines `boda bench` sets beside boda, and the report it writes.

    bench.py        the measurement: per conv layer and whole network, in interleaved turns
    onnxruntime.py  onnxruntime's CPU execution provider
    openvino.py     OpenVINO's CPU plugin, fp32 forced (and its default precision beside it)
    cudnn.py        cuDNN through PyTorch (eager and CUDA graph), running torch_model.py
    torch_model.py  an ONNX model as PyTorch operations
    timing.py       timing Python callables fairly on a shared machine; the machine's name
    report.py       markdown, JSON and a PNG chart
"""
from __future__ import annotations

from .bench import REFERENCES, default_against, run_bench

__all__ = ["REFERENCES", "default_against", "run_bench"]
