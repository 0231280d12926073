"""Turning an image file into the input tensor an ImageNet model expects."""
from __future__ import annotations

import numpy as np

from ..errors import InputError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def load_image(path: str, shape) -> np.ndarray:
    """Resize the shorter side, center-crop to the model's H x W, scale to [0, 1], normalize
    with the ImageNet mean and std, and lay out as NCHW repeated over the batch."""
    from PIL import Image, UnidentifiedImageError
    if len(shape) != 4 or shape[1] != 3:
        raise InputError(f"an image input needs a model input of shape (N, 3, H, W), the "
                         f"model's is {shape}")
    n, _, h, w = shape
    try:
        img = Image.open(path).convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"cannot read image {path}: {exc}") from None
    scale = max(h / img.height, w / img.width) * 256 / 224
    img = img.resize((max(w, round(img.width * scale)), max(h, round(img.height * scale))),
                     Image.BILINEAR)
    left, top = (img.width - w) // 2, (img.height - h) // 2
    img = img.crop((left, top, left + w, top + h))
    x = (np.asarray(img, np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    x = x.transpose(2, 0, 1)[None]
    return np.ascontiguousarray(np.repeat(x, n or 1, axis=0))
