"""The activations a kernel applies to its result before storing it (an `Act` tuple: the name,
then its parameters), each with the ONNX op it comes from and its numpy meaning.

The passes fuse an activation into the kernel that produces its input (conv, pool, matmul,
eltwise); alone, it is an eltwise copy that applies it. Kernels spell relu, leakyrelu,
sigmoid and clip inline (kernels/templating.act_expr) and call every other one as a function
`boda_<name>(x, params...)` of templates/activations.j2. The ONNX attributes named in
`params` are read, in order and with their defaults, into the Act tuple.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

SELU_ALPHA = 1.67326319217681884765625  # ONNX Selu's defaults
SELU_GAMMA = 1.05070102214813232421875


@dataclass(frozen=True)
class Activation:
    name: str
    onnx: str                 # the ONNX op type
    numpy: Callable           # (x as float64, *params) -> y
    params: tuple = ()        # ((ONNX attribute, default), ...) read into the Act tuple


def _softplus(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


_erf = np.vectorize(math.erf, otypes=[np.float64])

ACTIVATIONS = {a.name: a for a in [
    Activation("relu", "Relu", lambda x: np.maximum(x, 0)),
    Activation("leakyrelu", "LeakyRelu", lambda x, a: np.where(x >= 0, x, x * a),
               (("alpha", 0.01),)),
    Activation("sigmoid", "Sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    Activation("clip", "Clip", lambda x, lo, hi: np.clip(x, lo, hi)),
    Activation("hardsigmoid", "HardSigmoid", lambda x, a, b: np.clip(a * x + b, 0, 1),
               (("alpha", 0.2), ("beta", 0.5))),
    Activation("hardswish", "HardSwish", lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    Activation("tanh", "Tanh", np.tanh),
    Activation("elu", "Elu", lambda x, a: np.where(x >= 0, x, a * np.expm1(np.minimum(x, 0))),
               (("alpha", 1.0),)),
    Activation("selu", "Selu",
               lambda x, a, g: g * np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))),
               (("alpha", SELU_ALPHA), ("gamma", SELU_GAMMA))),
    Activation("gelu", "Gelu", lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    Activation("gelu_tanh", "Gelu", lambda x: 0.5 * x * (1 + np.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    Activation("softplus", "Softplus", _softplus),
    Activation("softsign", "Softsign", lambda x: x / (1 + np.abs(x))),
    Activation("mish", "Mish", lambda x: x * np.tanh(_softplus(x))),
    Activation("erf", "Erf", _erf),
    Activation("exp", "Exp", np.exp),
    Activation("log", "Log", np.log),
    Activation("sqrt", "Sqrt", np.sqrt),
    Activation("neg", "Neg", np.negative),
    Activation("abs", "Abs", np.abs),
    Activation("reciprocal", "Reciprocal", lambda x: 1 / x),
    Activation("pow", "Pow", np.power),  # a constant exponent: ("pow", e)
]}

# ONNX op -> the activation it imports as (Gelu's approximate="tanh" is gelu_tanh, Clip and
# Pow read constant inputs: frontend/ops.py imports those)
BY_ONNX = {a.onnx: a for a in ACTIVATIONS.values() if a.name != "gelu_tanh"}


def apply(act: tuple, x: np.ndarray) -> np.ndarray:
    """The numpy meaning of an Act tuple (() is the identity)."""
    if not act:
        return x
    with np.errstate(all="ignore"):  # log/sqrt of negatives are NaN, as in the kernels
        return ACTIVATIONS[act[0]].numpy(x, *act[1:])
