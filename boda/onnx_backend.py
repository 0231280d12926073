"""An onnx.backend Backend over boda, so ONNX's own conformance suite can judge it."""
from __future__ import annotations

import onnx
from onnx.backend.base import Backend, BackendRep

from .session import Session


class BodaRep(BackendRep):
    def __init__(self, session: Session):
        self.session = session
        self.names = [n for n, _, _ in session.specs]

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            feeds = inputs
        else:
            feeds = dict(zip(self.names, inputs))
        return self.session.run(None, feeds)


class BodaBackend(Backend):
    device = None  # the --device selection to use; None is the default device

    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        return True

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device="CPU", **kwargs):
        super().prepare(model, device, **kwargs)
        return BodaRep(Session(model, cls.device))

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"


prepare = BodaBackend.prepare
