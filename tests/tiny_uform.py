"""A tiny model in UForm's own on-disk format, built in the test run (no download).

It has UForm's files and tensor names (`config.json`, `tokenizer.json` from the `tokenizers`
library, `image_encoder.onnx` with input `images`, `text_encoder.onnx` with inputs `input_ids`
and `attention_mask`, each returning `features, embeddings`), so facefind loads it through the
same code as the real model. Its embeddings make colour words match photos of that colour: the
image embedding is the photo's mean normalised colour, the text embedding the mean of the
colour words' vectors. Like UForm's, its embeddings are not unit length.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, pre_tokenizers

IMAGE_SIZE = 32
DIMENSIONS = 4  # red, green, blue, and one dimension no colour uses
COLOURS = {
    "red": [1.0, -1.0, -1.0, 0.0],
    "green": [-1.0, 1.0, -1.0, 0.0],
    "blue": [-1.0, -1.0, 1.0, 0.0],
    "yellow": [1.0, 1.0, -1.0, 0.0],
    "white": [1.0, 1.0, 1.0, 0.0],
    "black": [-1.0, -1.0, -1.0, 0.0],
}
VOCABULARY = ["[PAD]", "[UNK]", *COLOURS, "a", "photo", "of", "the", "at", "finish", "line"]
MAX_TOKENS = 16


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime since 1.15
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _image_encoder(path: Path) -> None:
    """images (N,3,S,S) -> features = mean colour (N,3), embeddings = 2x that, padded (N,4)."""
    projection = np.zeros((3, DIMENSIONS), dtype=np.float32)
    projection[[0, 1, 2], [0, 1, 2]] = 2.0  # not unit length, as UForm's are not
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images"], ["pooled"], axes=[2, 3], keepdims=0),
            helper.make_node("Identity", ["pooled"], ["features"]),
            helper.make_node("MatMul", ["pooled", "projection"], ["embeddings"]),
        ],
        "tiny_image_encoder",
        [
            helper.make_tensor_value_info(
                "images", TensorProto.FLOAT, ["n", 3, IMAGE_SIZE, IMAGE_SIZE]
            )
        ],
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", 3]),
            helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["n", DIMENSIONS]),
        ],
        [numpy_helper.from_array(projection, "projection")],
    )
    _save(graph, path)


def _text_encoder(path: Path) -> None:
    """input_ids, attention_mask (N,L) int32 -> features (N,L,4), embeddings = masked sum (N,4)."""
    table = np.zeros((len(VOCABULARY), DIMENSIONS), dtype=np.float32)
    for word, vector in COLOURS.items():
        table[VOCABULARY.index(word)] = vector
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "input_ids"], ["features"]),
            helper.make_node("Cast", ["attention_mask"], ["mask_float"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["mask_float", "last_axis"], ["mask"]),
            helper.make_node("Mul", ["features", "mask"], ["masked"]),
            helper.make_node("ReduceSum", ["masked", "token_axis"], ["embeddings"], keepdims=0),
        ],
        "tiny_text_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["n", MAX_TOKENS]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT32, ["n", MAX_TOKENS]),
        ],
        [
            helper.make_tensor_value_info(
                "features", TensorProto.FLOAT, ["n", MAX_TOKENS, DIMENSIONS]
            ),
            helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["n", DIMENSIONS]),
        ],
        [
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "last_axis"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "token_axis"),
        ],
    )
    _save(graph, path)


def _tokenizer(path: Path) -> None:
    vocabulary = {word: number for number, word in enumerate(VOCABULARY)}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(path))


def build_tiny_uform(folder: Path) -> Path:
    """Write the tiny model's four files into `folder` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "text_encoder": {
            "max_position_embeddings": MAX_TOKENS,
            "padding_idx": 0,
            "embedding_dim": DIMENSIONS,
        },
        "image_encoder": {
            "image_size": IMAGE_SIZE,
            "normalization_means": [0.5, 0.5, 0.5],
            "normalization_deviations": [0.5, 0.5, 0.5],
            "embedding_dim": DIMENSIONS,
        },
    }
    (folder / "config.json").write_text(json.dumps(config))
    _tokenizer(folder / "tokenizer.json")
    _image_encoder(folder / "image_encoder.onnx")
    _text_encoder(folder / "text_encoder.onnx")
    return folder
