"""The models users export from PyTorch, and both of its exporters: torchvision's
classification families at 224x224, its LR-ASPP and FCN segmentation heads, an SSDlite
detection head and a small U-Net-style decoder, all with seeded random weights (nothing is
downloaded). Used by test_pytorch_export.py and benchmarks/exporters.py.

    export(name, exporter, path) -> onnx.ModelProto   exporter: "torchscript" | "dynamo"
"""
from __future__ import annotations

import io

EXPORTERS = ("torchscript", "dynamo")

CLASSIFIERS = ["squeezenet1_1", "resnet18", "mobilenet_v2", "mobilenet_v3_small",
               "shufflenet_v2_x0_5", "efficientnet_b0", "mnasnet0_5", "regnet_x_400mf",
               "densenet121", "googlenet"]
DENSE = ["lraspp_mobilenet_v3_large", "fcn_resnet50", "ssdlite_head", "unet_decoder"]
MODELS = CLASSIFIERS + DENSE


def _unet_decoder(torch):
    nn = torch.nn

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True))

    class UNet(nn.Module):
        """Encoder, bottleneck, and a decoder growing back by ConvTranspose and by bilinear
        upsampling, with skip concatenations."""
        def __init__(self):
            super().__init__()
            self.e1, self.e2, self.e3 = block(3, 16), block(16, 32), block(32, 64)
            self.up3 = nn.ConvTranspose2d(64, 32, 2, stride=2)
            self.d2 = block(64, 32)
            self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.d1 = block(48, 16)
            self.head = nn.Conv2d(16, 2, 1)

        def forward(self, x):
            e1 = self.e1(x)
            e2 = self.e2(nn.functional.max_pool2d(e1, 2))
            e3 = self.e3(nn.functional.max_pool2d(e2, 2))
            d2 = self.d2(torch.cat([self.up3(e3), e2], 1))
            d1 = self.d1(torch.cat([self.up2(d2), e1], 1))
            return self.head(d1)
    return UNet()


def _ssdlite_head(torch, tv):
    """SSDlite320 (MobileNetV3-large backbone): the backbone and the box/class heads, whose
    raw outputs are what the exported graph computes before the host-side box decoding."""
    model = tv.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=91)

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.head = model.backbone, model.head

        def forward(self, x):
            out = self.head(list(self.backbone(x).values()))
            return out["bbox_regression"], out["cls_logits"]
    return Head(), (1, 3, 320, 320)


def build(name: str):
    """(torch module in eval mode, input shape)."""
    import torch
    import torchvision as tv
    torch.manual_seed(0)
    shape = (1, 3, 224, 224)
    if name == "unet_decoder":
        module, shape = _unet_decoder(torch), (1, 3, 96, 96)
    elif name == "ssdlite_head":
        module, shape = _ssdlite_head(torch, tv)
    elif name in ("lraspp_mobilenet_v3_large", "fcn_resnet50"):
        seg = getattr(tv.models.segmentation, name)(weights=None, weights_backbone=None,
                                                    aux_loss=False)

        class Out(torch.nn.Module):  # the dict's "out" tensor
            def __init__(self):
                super().__init__()
                self.seg = seg

            def forward(self, x):
                return self.seg(x)["out"]
        module = Out()
    else:
        module = getattr(tv.models, name)(weights=None, **(
            {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}))
    module.eval()
    # random BatchNorm statistics, so that folding them is really tested
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.8, 1.2)
    return module, shape


def export(name: str, exporter: str):
    """The ONNX model of `name` as `exporter` writes it (torch.onnx.export, dynamo False or
    True), and its input shape."""
    import onnx
    import torch
    module, shape = build(name)
    x = torch.randn(shape)
    f = io.BytesIO()
    with torch.no_grad():
        if exporter == "torchscript":
            torch.onnx.export(module, (x,), f, dynamo=False, opset_version=17,
                              input_names=["x"])
            return onnx.load_from_string(f.getvalue()), shape
        program = torch.onnx.export(module, (x,), dynamo=True, input_names=["x"],
                                    verbose=False)
    return program.model_proto, shape


def main(argv):
    """python torch_exports.py OUT NAME...: for each model and exporter, OUT/NAME.EXPORTER.onnx
    (its input shape in OUT/NAME.shape) or, when the export fails, OUT/NAME.EXPORTER.error."""
    import time
    import traceback
    from pathlib import Path
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name in argv[1:]:
        for exporter in EXPORTERS:
            start = time.perf_counter()
            try:
                model, shape = export(name, exporter)
            except Exception:
                (out / f"{name}.{exporter}.error").write_text(traceback.format_exc())
                continue
            (out / f"{name}.{exporter}.onnx").write_bytes(model.SerializeToString())
            (out / f"{name}.shape").write_text(" ".join(map(str, shape)))
            print(f"{name} {exporter}: {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
