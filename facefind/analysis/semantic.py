"""Photo and text embeddings with UForm, for search by description and "more like this".

UForm's ONNX encoders (lighter and faster on a CPU than its torch backend) are loaded from the
Hugging Face hub cache (downloaded once where there is internet) or from a local folder in
UForm's own layout (`config.json`, `tokenizer.json`, `image_encoder.onnx`,
`text_encoder.onnx`). Two UForm pitfalls are handled here: its embeddings are not unit length
(they are normalised before any cosine), and its NumPy image processor distorts portrait photos
(it overwrites the width before computing the height), so photos are resized and centre-cropped
with Pillow instead, with the model's own normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from facefind.analysis.runtime import LoadsOnce
from facefind.config import UFORM_MODEL_ENV, Environment
from facefind.errors import ModelUnavailableError
from facefind.vectors import l2_normalize

DEFAULT_UFORM_MODEL = "unum-cloud/uform3-image-text-english-small"
UFORM_MODELS = (
    DEFAULT_UFORM_MODEL,
    "unum-cloud/uform3-image-text-english-base",
    "unum-cloud/uform3-image-text-multilingual-base",
)
#: A hub name or a local folder; the app setting and the CLI flag take precedence.
MODEL_FILES = ("config.json", "tokenizer.json", "image_encoder.onnx", "text_encoder.onnx")


def configured_model(explicit: str | None = None) -> str:
    """The UForm model to use: the explicit choice, else $FACEFIND_UFORM_MODEL, else default."""
    return explicit or Environment.now().uform_model or DEFAULT_UFORM_MODEL


@dataclass(frozen=True)
class ModelFiles:
    config: str
    tokenizer: str
    image_encoder: str
    text_encoder: str


def locate_model(name_or_folder: str) -> ModelFiles:
    """The files of a UForm model: from a local folder, or from the hub (cache first)."""
    folder = Path(name_or_folder).expanduser()
    if folder.is_dir():
        missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
        if missing:
            raise ModelUnavailableError(
                f"The UForm model folder {folder} lacks {', '.join(missing)}."
            )
        return ModelFiles(*(str(folder / name) for name in MODEL_FILES))
    return _from_hub(name_or_folder)


def _from_hub(name: str) -> ModelFiles:
    from uform import get_checkpoint
    from uform.shared import Modality

    modalities = (Modality.TEXT_ENCODER, Modality.IMAGE_ENCODER)
    try:
        config, paths, tokenizer = get_checkpoint(name, modalities, format=".onnx")
    except Exception as error:  # offline with nothing cached, unknown name, hub errors
        raise ModelUnavailableError(
            f"Descriptions need the UForm model {name}, which is downloaded on first use, and "
            f"it could not be downloaded here (offline?). Face search and bib numbers work "
            f"without it. Connect to the internet once, or set {UFORM_MODEL_ENV} to a folder "
            f"holding {', '.join(MODEL_FILES)}."
        ) from error
    if not isinstance(paths, dict) or not config or not tokenizer or len(paths) < 2:
        raise ModelUnavailableError(f"{name} is not a UForm image-text model with ONNX encoders.")
    return ModelFiles(
        config, tokenizer, paths[Modality.IMAGE_ENCODER], paths[Modality.TEXT_ENCODER]
    )


class PhotoTextModel(LoadsOnce[tuple]):
    """UForm's image and text encoders, loaded once, giving unit-length embeddings (their ONNX
    Runtime sessions run from several threads at once)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = configured_model(name)
        self._fresh_runtime_state()

    def _load_model(self) -> tuple:
        return self._build(locate_model(self.name))

    @staticmethod
    def _build(files: ModelFiles) -> tuple:
        from uform.numpy_processors import TextProcessor
        from uform.onnx_encoders import ImageEncoder, TextEncoder
        from uform.shared import read_config

        try:
            config = read_config(files.config)
            image_config = config.get("image_encoder", config)
            text = TextProcessor(files.config, files.tokenizer)
            image_encoder = ImageEncoder(files.image_encoder, device="cpu")
            text_encoder = TextEncoder(files.text_encoder, device="cpu")
            preprocess = ImagePreprocessor(
                int(image_config["image_size"]),
                image_config["normalization_means"],
                image_config["normalization_deviations"],
            )
        except Exception as error:
            raise ModelUnavailableError(
                f"The UForm model files are damaged or incomplete ({error})."
            ) from error
        return preprocess, image_encoder, text, text_encoder

    @property
    def preprocess(self) -> ImagePreprocessor:
        return self.model[0]

    def embed_images(self, batch: np.ndarray) -> np.ndarray:
        """Unit-length embeddings of preprocessed photos, `(n, 3, S, S)` -> `(n, D)`."""
        _, encoder, _, _ = self.model
        embeddings = encoder.encode(
            np.ascontiguousarray(batch, dtype=np.float32), return_features=False
        )
        return l2_normalize(embeddings)

    def embed_photos(self, photos: Sequence[np.ndarray]) -> np.ndarray:
        """Unit-length embeddings of RGB photos (any size and aspect)."""
        return self.embed_images(np.stack([self.preprocess(photo) for photo in photos]))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings of descriptions."""
        _, _, processor, encoder = self.model
        return l2_normalize(encoder.encode(processor(list(texts)), return_features=False))


class ImagePreprocessor:
    """Resize the short side, centre-crop a square, normalise: what UForm means to do.

    UForm's own NumPy processor sets the width to the target size and then computes the height
    from the *new* width, so a portrait photo is squashed instead of cropped.
    """

    def __init__(self, size: int, means: Sequence[float], deviations: Sequence[float]) -> None:
        self.size = size
        self.means = np.asarray(means, dtype=np.float32)
        self.deviations = np.asarray(deviations, dtype=np.float32)

    def __call__(self, photo: np.ndarray) -> np.ndarray:
        """An RGB uint8 `(H, W, 3)` photo to a normalised `(3, S, S)` float32 array."""
        square = ImageOps.fit(
            Image.fromarray(photo), (self.size, self.size), Image.Resampling.BICUBIC
        )
        pixels = np.asarray(square, dtype=np.float32) / 255.0
        return np.transpose((pixels - self.means) / self.deviations, (2, 0, 1))
