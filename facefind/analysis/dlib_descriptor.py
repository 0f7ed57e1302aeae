"""dlib's face descriptor network (dlib_face_recognition_resnet_model_v1), read from its own
weights file and run by OpenVINO: the same 128-D vectors as dlib (they differ by at most 1e-6)
in a twentieth of the time (55 -> 3 ms a face on one core: the dlib-bin wheel is built
without BLAS) and without holding Python's GIL.

The weights file is dlib's serialisation of the network dlib's example defines (a ResNet of 29
convolutions, each followed by a per-channel affine layer: batch normalisation folded at
training time). It is read here layer by layer: each layer's name, then its parameters as one
tensor of little-endian float32 and its shape as dlib's variable-length integers. The graph is
rebuilt from that layer sequence with OpenVINO's operators, each affine layer folded into its
convolution. A file that does not read as that network (another version, damaged) makes
`descriptor_network` return None, and facefind embeds with dlib itself (which then says what
is wrong with the file).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facefind.analysis.openvino_models import OpenVinoModel, openvino_installed

log = logging.getLogger("facefind")

#: The chip side the network takes (its input layer, `input_rgb_image_sized<150>`).
CHIP_SIZE = 150
#: The layer names (with dlib's serialisation version) of that network.
_LAYER_NAME = re.compile(
    rb"\x01[\x03-\x20](con_4|affine_|relu_|max_pool_2|avg_pool_2|add_prev_|fc_2)"
)
_INPUT_LAYER = b"\x01\x15input_rgb_image_sized"


class NotTheDescriptorNetwork(ValueError):
    """The weights file does not hold the network this module knows how to rebuild."""


@dataclass(frozen=True)
class _Layer:
    kind: str  # "con", "affine", "relu", "maxpool", "avgpool", "add_prev", "fc"
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    #: window (rows, columns), stride and padding of a convolution or pooling; (0, 0) pools all
    window: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)


class _Reader:
    """dlib's serialisation: integers as a control byte (length in the low 4 bits, sign in the
    high bit) and that many little-endian bytes; a float as two such integers (mantissa and
    binary exponent); a tensor as a version, four dimensions and raw float32."""

    def __init__(self, data: bytes, at: int):
        self.data, self.at = data, at

    def integer(self) -> int:
        control = self.data[self.at]
        size = control & 0x0F
        value = int.from_bytes(self.data[self.at + 1 : self.at + 1 + size], "little")
        self.at += 1 + size
        return -value if control & 0x80 else value

    def real(self) -> float:
        mantissa = self.integer()
        return mantissa * 2.0 ** self.integer()

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise NotTheDescriptorNetwork("unknown tensor version")
        count = int(np.prod([self.integer() for _ in range(4)]))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.at)
        self.at += 4 * count
        return values.astype(np.float32)


def read_network(data: bytes) -> tuple[np.ndarray, list[_Layer]]:
    """The input layer's mean colour (R, G, B) and the layers from the input up."""
    start = data.find(_INPUT_LAYER)
    if start < 0:
        raise NotTheDescriptorNetwork("no input_rgb_image_sized layer")
    reader = _Reader(data, start + len(_INPUT_LAYER))
    means = np.array([reader.real() for _ in range(3)], dtype=np.float32)
    layers = []
    while (found := _LAYER_NAME.search(data, reader.at)) is not None:
        name = found.group(1).decode()
        reader.at = found.end()
        if name == "con_4":
            params = reader.tensor()
            filters, rows, columns, *geometry = (reader.integer() for _ in range(7))
            size = params.size - filters  # the weights, then one bias a filter
            shape = (filters, size // (filters * rows * columns), rows, columns)
            layers.append(
                _Layer(
                    "con",
                    params[:size].reshape(shape),
                    params[size:],
                    (rows, columns),
                    (geometry[0], geometry[1]),
                    (geometry[2], geometry[3]),
                )
            )
        elif name == "affine_":
            params = reader.tensor()  # gamma, then beta
            half = params.size // 2
            layers.append(_Layer("affine", params[:half], params[half:]))
        elif name in ("max_pool_2", "avg_pool_2"):
            rows, columns, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
            kind = "maxpool" if name == "max_pool_2" else "avgpool"
            layers.append(
                _Layer(kind, None, None, (rows, columns), (stride_y, stride_x), (pad_y, pad_x))
            )
        elif name == "fc_2":
            outputs, inputs = reader.integer(), reader.integer()
            params = reader.tensor()
            layers.append(_Layer("fc", params[: inputs * outputs].reshape(inputs, outputs)))
        else:
            layers.append(_Layer(name.rstrip("_")))
    return means, layers


def build_model(layers: Sequence[_Layer]) -> Any:
    """The OpenVINO model of the layer sequence: a 7x7 convolution and a max pool, residual
    blocks (two 3x3 convolutions added to the block's input, or to that input average-pooled
    where the block halves the size), a global average and the 128-D projection. Where a block
    widens or its two branches differ in size, dlib adds them as if the smaller were padded
    with zeros at its end; so is it here."""
    import openvino
    import openvino.opset13 as ops

    chips = ops.parameter([-1, 3, CHIP_SIZE, CHIP_SIZE], np.float32, name="chips")
    sequence: Iterator[_Layer] = iter(layers)

    def expect(kind: str) -> _Layer:
        layer = next(sequence, None)
        if layer is None or layer.kind != kind:
            raise NotTheDescriptorNetwork(f"expected a {kind} layer, found {layer}")
        return layer

    def convolution(x: Any, shape: list[int], layer: _Layer) -> tuple[Any, list[int]]:
        affine = expect("affine")
        assert layer.weights is not None and layer.bias is not None
        assert affine.weights is not None and affine.bias is not None
        gamma, beta = affine.weights, affine.bias
        weights = layer.weights * gamma[:, None, None, None]
        bias = (layer.bias * gamma + beta).reshape(1, -1, 1, 1)
        padding = list(layer.padding)
        y = ops.convolution(x, ops.constant(weights), list(layer.stride), padding, padding, [1, 1])
        return ops.add(y, ops.constant(bias)), [
            layer.weights.shape[0],
            *_pooled(shape[1:], layer.window, layer.stride, layer.padding),
        ]

    def pool(x: Any, shape: list[int], layer: _Layer) -> tuple[Any, list[int]]:
        padding = list(layer.padding)
        if layer.kind == "maxpool":
            y = ops.max_pool(x, list(layer.stride), [1, 1], padding, padding, list(layer.window))
            y = y.output(0)
        else:
            y = ops.avg_pool(x, list(layer.stride), padding, padding, list(layer.window), True)
        return y, [shape[0], *_pooled(shape[1:], layer.window, layer.stride, layer.padding)]

    def padded(x: Any, shape: list[int], target: list[int]) -> Any:
        if shape == target:
            return x
        ends = np.array([0] + [want - have for want, have in zip(target, shape, strict=True)])
        zero = ops.constant(np.zeros(4, dtype=np.int64))
        return ops.pad(x, zero, ops.constant(ends), "constant", ops.constant(np.float32(0)))

    x, shape = convolution(chips, [3, CHIP_SIZE, CHIP_SIZE], expect("con"))
    x = ops.relu(x)
    expect("relu")
    x, shape = pool(x, shape, expect("maxpool"))
    for layer in sequence:
        if layer.kind == "avgpool":  # avg_pool_everything: the end of the residual blocks
            x = ops.reduce_mean(x, ops.constant(np.array([2, 3])), keep_dims=False)
            break
        if layer.kind != "con":
            raise NotTheDescriptorNetwork(f"a block starts with {layer.kind}")
        block_input, input_shape = x, shape
        y, branch_shape = convolution(x, shape, layer)
        expect("relu")
        y, branch_shape = convolution(ops.relu(y), branch_shape, expect("con"))
        after = next(sequence, None)
        if after is not None and after.kind == "avgpool":
            block_input, input_shape = pool(block_input, input_shape, after)
            after = next(sequence, None)
        if after is None or after.kind != "add_prev":
            raise NotTheDescriptorNetwork("a block without its addition")
        shape = [max(a, b) for a, b in zip(branch_shape, input_shape, strict=True)]
        x = ops.relu(
            ops.add(padded(y, branch_shape, shape), padded(block_input, input_shape, shape))
        )
        expect("relu")
    projection = expect("fc").weights
    if projection is None or projection.shape != (shape[0], 128):
        raise NotTheDescriptorNetwork("the projection is not 128-D")
    output = ops.matmul(x, ops.constant(projection), False, False)
    return openvino.Model([output], [chips], "dlib_face_recognition_resnet_model_v1")


def _pooled(
    size: Sequence[int], window: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int]
) -> list[int]:
    return [(size[i] + 2 * pad[i] - window[i]) // stride[i] + 1 for i in range(2)]


class DescriptorNetwork:
    """The network compiled once per process (openvino_models.OpenVinoModel) in float32:
    bfloat16 would change the vectors the bar is calibrated on."""

    def __init__(self, weights_file: Path):
        means, layers = read_network(weights_file.read_bytes())
        self._means = means
        self._model = OpenVinoModel(build_model(layers), precision="f32")

    def describe(self, rgb_chips: np.ndarray) -> np.ndarray:
        """The 128-D descriptors of RGB uint8 chips (n, 150, 150, 3), as dlib's
        `compute_face_descriptor` gives them: dlib's input is (pixel - mean colour) / 256."""
        planes = (rgb_chips.astype(np.float32) - self._means) / 256.0
        return self._model.infer(np.ascontiguousarray(planes.transpose(0, 3, 1, 2)))


@functools.cache
def descriptor_network(weights_file: Path) -> DescriptorNetwork | None:
    """The network of this weights file, made once per process; None where OpenVINO is not
    installed or the file is not that network (facefind then embeds with dlib itself)."""
    if not openvino_installed():
        return None
    try:
        return DescriptorNetwork(weights_file)
    except (NotTheDescriptorNetwork, OSError, IndexError, ValueError, RuntimeError) as error:
        log.warning(
            "dlib's face model runs in dlib itself: %s cannot be rebuilt (%s)",
            weights_file.name,
            error,
        )
        return None
