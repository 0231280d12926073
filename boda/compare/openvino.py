"""OpenVINO (CPU plugin) as a reference engine, as a user would pick it: fp32 forced with
INFERENCE_PRECISION_HINT=f32 (OpenVINO's default on some CPUs is bf16 or f16), and, where
the default precision differs, that default beside it. A conv layer runs as onnxruntime's
one-node model (the same ONNX), the network as the model itself; wall-clock medians of a
synchronous infer request."""
from __future__ import annotations

from .onnxruntime import THREADS, conv_model
from .timing import median_seconds


class Reference:
    name = "openvino"

    def __init__(self, device=None):
        import openvino as ov
        self.ov = ov
        self.core = ov.Core()
        self.version = ov.__version__.split("-")[0]
        hint = self.core.get_property("CPU", "INFERENCE_PRECISION_HINT")
        self.default_precision = getattr(hint, "get_type_name", lambda: str(hint))()
        self.variants = {"openvino-f32": "f32"}
        if self.default_precision != "f32":
            self.variants[f"openvino-{self.default_precision}"] = None
        self.note = (f"OpenVINO CPU plugin, {THREADS} threads, INFERENCE_PRECISION_HINT=f32 "
                     f"(its default here: {self.default_precision}); synchronous infer")

    def _compiled(self, model, precision):
        config = {"INFERENCE_NUM_THREADS": THREADS}
        if precision:
            config["INFERENCE_PRECISION_HINT"] = precision
        compiled = self.core.compile_model(self.core.read_model(model.SerializeToString()),
                                           "CPU", config)
        request = compiled.create_infer_request()

        def run(feeds):
            request.infer(feeds)
            return [request.get_output_tensor(i).data.copy()
                    for i in range(len(compiled.outputs))]
        return run

    def time_layer(self, problem, inputs, repeat: int) -> dict:
        """Seconds of one conv layer (with its fused activation), by variant."""
        model = conv_model(problem, inputs)
        feed = {"x": inputs[0]}
        out = {}
        for variant, precision in self.variants.items():
            run = self._compiled(model, precision)
            out[variant] = median_seconds(lambda: run(feed), repeat)
        return out

    def network(self, model, feeds):
        """Variant -> a callable running the whole network once, and its outputs."""
        out = {}
        for variant, precision in self.variants.items():
            run = self._compiled(model, precision)
            out[variant] = ((lambda r=run: r(feeds)), run(feeds))
        return out
