"""cuDNN, through PyTorch, as the reference on NVIDIA GPUs.

Layers: torch's conv (cuDNN) in fp32 with TF32 off, timed with CUDA events, twice: with
`cudnn.benchmark=False` (cuDNN's heuristic picks the algorithm) and with `benchmark=True,
benchmark_limit=0` (cuDNN tries every algorithm and keeps the fastest). The layer's activation is
not included in cuDNN's time (boda's kernels fuse it, so this favours cuDNN).
Whole network (torch_model.TorchModel): PyTorch eager, and the same captured in a CUDA graph.
"""
from __future__ import annotations

import statistics

from ..errors import BodaError


class Reference:
    name = "cudnn"

    def __init__(self, device):
        try:
            import torch
        except ImportError:
            raise BodaError("--against cudnn needs PyTorch (with CUDA), which is not "
                            "installed") from None
        if not torch.cuda.is_available():
            raise BodaError("--against cudnn: PyTorch sees no CUDA device")
        self.torch = torch
        self.dev = torch.device("cuda", device.ordinal if device.backend == "cuda" else 0)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        self.version = (f"PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
                        f"{torch.cuda.get_device_name(self.dev)}")
        self.note = ("cuDNN through PyTorch, fp32, TF32 off; conv with bias, its activation "
                     "not timed; CUDA events")

    def _events(self, fn, repeat: int) -> float:
        torch = self.torch
        for _ in range(3):
            fn()
        pairs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                 for _ in range(repeat)]
        for start, end in pairs:
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(self.dev)
        return 1e-3 * statistics.median(s.elapsed_time(e) for s, e in pairs)

    def time_layer(self, problem, inputs, repeat: int) -> dict:
        from .torch_model import OPS
        torch = self.torch
        p = problem
        x, w, *rest = [torch.from_numpy(a).to(self.dev) for a in inputs]
        b = rest[:1] if p.bias else []
        r = rest[-1] if p.residual else None  # the fused Add, timed with the conv
        attrs = {"strides": list(p.stride), "dilations": list(p.dilation), "group": p.group,
                 "pads": list(p.pad_begin) + list(p.pad_end)}
        out = {}
        with torch.cuda.device(self.dev), torch.no_grad():
            for label, bench in (("cudnn-heuristic", False), ("cudnn-find", True)):
                torch.backends.cudnn.benchmark = bench
                if bench:
                    torch.backends.cudnn.benchmark_limit = 0
                out[label] = self._events(
                    (lambda: OPS["Conv"](torch, [x, w, *b], attrs) + r) if r is not None
                    else (lambda: OPS["Conv"](torch, [x, w, *b], attrs)), repeat)
        torch.backends.cudnn.benchmark = False
        return out

    def network(self, model, feeds):
        """Variant -> (a callable running the network once and waiting, its outputs)."""
        from .torch_model import TorchModel
        torch = self.torch
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.benchmark_limit = 0
        net = TorchModel(model, self.dev)
        host = {k: torch.from_numpy(v) for k, v in feeds.items()}
        static = {k: v.to(self.dev) for k, v in host.items()}

        def eager():
            with torch.no_grad():
                dev = {k: v.to(self.dev, non_blocking=True) for k, v in host.items()}
                outs = [o.cpu() for o in net(dev)]
            return outs

        with torch.no_grad():
            side = torch.cuda.Stream(self.dev)
            side.wait_stream(torch.cuda.current_stream(self.dev))
            with torch.cuda.stream(side):
                for _ in range(3):  # warm up (and let cudnn.benchmark choose) off the graph
                    net(static)
            torch.cuda.current_stream(self.dev).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                captured = net(static)

        def replay():
            for k, v in host.items():
                static[k].copy_(v, non_blocking=True)
            graph.replay()
            return [o.cpu() for o in captured]

        to_numpy = lambda outs: [o.numpy() for o in outs]  # noqa: E731
        return {"pytorch-eager": (eager, to_numpy(eager())),
                "pytorch-cuda-graph": (replay, to_numpy(replay()))}
