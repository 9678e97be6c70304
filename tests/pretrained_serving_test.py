"""``make saved-models``: the shipped default exported for TF Serving loads and answers like the
shipped weights (``Inpainter()``) on a real photo."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from tfinpaint.cli import main
from tfinpaint.data.images import load_image
from tfinpaint.export.saved_model import SERVING_SIGNATURE
from tfinpaint.inference import Inpainter
from tfinpaint.pretrained import DEFAULT_MODEL


@pytest.mark.large
def test_saved_models_target_exports_the_default_and_it_answers_like_the_weights(
    tmp_path, photos_dir, capsys
):
    # The Makefile's saved-models target: `tfinpaint export --out saved_models/ --version 1
    # --overwrite` (no RUN_OR_NAME, no --name: the shipped default).
    assert main(["export", "--out", str(tmp_path), "--version", "1", "--overwrite",
                 "--no-warmup"]) == 0
    assert f"Exported {DEFAULT_MODEL}" in capsys.readouterr().out
    version = tmp_path / DEFAULT_MODEL / "1"
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()
    info = json.loads((version / "assets.extra" / "tfinpaint.json").read_text())
    assert info["source"] == DEFAULT_MODEL and info["model"] == "pconv_unet"

    photo = sorted((photos_dir / "val").glob("*.jpg"))[0]
    image = load_image(photo)[:200, :300]  # not a multiple of the model's 128: padded
    hole = np.zeros(image.shape[:2], bool)
    hole[40:120, 60:200] = True
    hole[150:170, 10:290] = True
    fn = tf.saved_model.load(str(version)).signatures[SERVING_SIGNATURE]
    served = fn(image=tf.constant(image[None]),
                mask=tf.constant(hole[None, ..., None].astype(np.uint8) * 255))
    served = served["inpainted"].numpy()[0]
    local = Inpainter()(image, hole)
    assert np.abs(served.astype(int) - local.astype(int)).max() <= 1
    np.testing.assert_array_equal(served[~hole], image[~hole])
    assert served[hole].std() > 5  # the hole holds the network's picture, not a flat block
