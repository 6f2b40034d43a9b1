"""Frames in, input tensors out: colour conversion, resize (stretch, letterbox, centre crop),
normalisation and quantization folded into one look-up table built once per model."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.tasks.quant import quantize

RESIZE_MODES = ("stretch", "letterbox", "crop")


@dataclass(frozen=True)
class Transform:
    """How a frame was mapped onto the model input: ``model = frame * scale + pad``."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    frame_width: int
    frame_height: int

    def to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        """Boxes in model-input pixels -> boxes in frame pixels, clipped to the frame."""
        out = np.asarray(xyxy, dtype=np.float32).copy()
        out[..., 0::2] = (out[..., 0::2] - self.pad_x) / self.scale_x
        out[..., 1::2] = (out[..., 1::2] - self.pad_y) / self.scale_y
        np.clip(out[..., 0::2], 0, self.frame_width, out=out[..., 0::2])
        np.clip(out[..., 1::2], 0, self.frame_height, out=out[..., 1::2])
        return out


def as_bgr8(frame: np.ndarray) -> np.ndarray:
    """Any reasonable image array -> contiguous HxWx3 uint8 BGR; anything else is an ``EdgeError``.

    Accepts grayscale (HxW or HxWx1), BGR, BGRA, uint8, 16-bit (scaled down), bool and float
    (0..1 when its maximum is at most 1, else 0..255).
    """
    if not isinstance(frame, np.ndarray):
        raise EdgeError(f"expected an image as a numpy array, got {type(frame).__name__}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)):
        raise EdgeError(f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise EdgeError(f"expected a non-empty image, got shape {frame.shape}")
    frame = _to_uint8(frame)
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(frame)


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    if frame.dtype == np.uint8:
        return frame
    if frame.dtype == np.bool_:
        return frame.astype(np.uint8) * 255
    if frame.dtype == np.uint16:
        return (frame >> 8).astype(np.uint8)
    if np.issubdtype(frame.dtype, np.integer):
        return np.clip(frame, 0, 255).astype(np.uint8)
    if np.issubdtype(frame.dtype, np.floating):
        values = np.nan_to_num(frame.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        if values.size and float(values.max()) <= 1.0:
            values = values * 255.0
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    raise EdgeError(f"expected an image of numeric dtype, got {frame.dtype}")


def resize(
    frame: np.ndarray, height: int, width: int, mode: str = "stretch", pad_value: int = 114
) -> tuple[np.ndarray, Transform]:
    """Resize a HxWxC frame to the model size; returns the image and the transform back."""
    fh, fw = frame.shape[:2]
    if mode == "stretch":
        sx, sy = width / fw, height / fh
        out = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
        return out, Transform(sx, sy, 0.0, 0.0, fw, fh)
    if mode == "letterbox":  # one pass: the border made with the copy, no resize at the same size
        s = min(width / fw, height / fh)
        nw, nh = max(1, round(fw * s)), max(1, round(fh * s))
        px, py = (width - nw) // 2, (height - nh) // 2
        same = (nw, nh) == (fw, fh)
        scaled = frame if same else cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
        border = (py, height - nh - py, px, width - nw - px)
        out = cv2.copyMakeBorder(scaled, *border, cv2.BORDER_CONSTANT, value=(pad_value,) * 4)
        return out, Transform(nw / fw, nh / fh, float(px), float(py), fw, fh)
    if mode == "crop":
        s = max(width / fw, height / fh)
        nw, nh = max(width, round(fw * s)), max(height, round(fh * s))
        x0, y0 = (nw - width) // 2, (nh - height) // 2
        scaled = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
        out = np.ascontiguousarray(scaled[y0 : y0 + height, x0 : x0 + width])
        return out, Transform(nw / fw, nh / fh, float(-x0), float(-y0), fw, fh)
    raise EdgeError(f"unknown resize mode {mode!r}: choose one of {', '.join(RESIZE_MODES)}")


class InputConverter:
    """uint8 pixels -> input tensor values: ``quantize((pixel - mean) / std)`` per channel.

    Built once per model as a 256-entry look-up table per channel; when the mapping is the identity
    (a uint8 model fed raw pixels) the pixels are passed through without a copy.
    """

    def __init__(
        self,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        channels: int,
        dtype: np.dtype,
        scale: float = 0.0,
        zero_point: int = 0,
    ) -> None:
        self.dtype = np.dtype(dtype)
        pixels = np.arange(256, dtype=np.float32)[:, None]
        mean_c = np.broadcast_to(np.asarray(mean, dtype=np.float32), (channels,))
        std_c = np.broadcast_to(np.asarray(std, dtype=np.float32), (channels,))
        real = (pixels - mean_c) / std_c  # (256, C)
        if np.issubdtype(self.dtype, np.integer):
            if scale == 0.0 and self.dtype == np.uint8 and bool(np.all(np.abs(real - pixels) < 0.5)):
                scale, zero_point = 1.0, 0  # raw pixels into a uint8 input that has no quantization (MoveNet)
            if scale == 0.0:
                raise EdgeError(f"input tensor is {self.dtype} but has no quantization parameters")
            exact = real / np.float32(scale) + np.float32(zero_point)
            table = quantize(real, scale, zero_point, self.dtype)
        else:
            exact = None
            table = real.astype(self.dtype)
        # Identity: every pixel maps to itself (uint8) or itself - 128 (int8), within rounding.
        offset = {np.dtype(np.uint8): 0, np.dtype(np.int8): -128}.get(self.dtype)
        self.passthrough = (
            exact is not None and offset is not None and bool(np.all(np.abs(exact - (pixels + offset)) < 0.5))
        )
        self.offset = offset
        self.lut = np.ascontiguousarray(table.reshape(256, 1, channels))

    def __call__(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """HxWxC uint8 image -> 1xHxWxC tensor of the model's dtype; with ``out`` (1xHxWxC, e.g. the
        interpreter's own input buffer) written into it, and ``out`` returned."""
        if out is not None:
            self._into(image, out[0] if image.ndim == 3 else out[0, :, :, 0])
            return out
        if self.passthrough:
            if self.offset == 0:
                return image[None]
            return (image.view(np.int8) ^ np.int8(-128))[None]  # p - 128 without overflow
        if image.ndim == 2:  # one-channel model
            return cv2.LUT(image, self.lut.reshape(256))[None, :, :, None]
        return cv2.LUT(image, self.lut)[None]

    def _into(self, image: np.ndarray, target: np.ndarray) -> None:
        """``__call__``'s values written into ``target`` (HxWxC or HxW, the model's dtype)."""
        if self.passthrough and self.offset == 0:
            np.copyto(target, image)
        elif self.passthrough:
            np.bitwise_xor(image.view(np.int8), np.int8(-128), out=target)
        else:
            written = cv2.LUT(image, self.lut if image.ndim == 3 else self.lut.reshape(256), dst=target)
            if not np.shares_memory(written, target):  # an OpenCV that made its own array instead
                np.copyto(target, written)
