"""The saved recommendation model: nothing in it is pickled, and an old pickled file is refused with the fix."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.config import RecsSettings
from retrieval.errors import RetrievalError
from retrieval.recs.model import RecsModel, empty_model


def _model() -> RecsModel:
    model = empty_model(["TENT-1", "BOOT-ü2", "MUG-3"], RecsSettings())
    model.popularity[:] = [3, 1, 2]
    return model


def test_saved_model_has_no_object_arrays_and_loads_without_pickle(tmp_path, monkeypatch):
    _model().save(tmp_path / "m")
    with np.load(tmp_path / "m" / "model.npz", allow_pickle=False) as z:
        assert all(z[name].dtype != object for name in z.files)  # an object array would raise or show here

    real_load = np.load

    def no_pickle_load(*args, **kwargs):
        assert kwargs.get("allow_pickle", False) is False, "RecsModel.load must not allow pickle"
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", no_pickle_load)
    loaded = RecsModel.load(tmp_path / "m")
    assert loaded.item_ids == ["TENT-1", "BOOT-ü2", "MUG-3"]
    assert all(isinstance(i, str) for i in loaded.item_ids)
    np.testing.assert_array_equal(loaded.popularity, [3, 1, 2])


def test_model_saved_with_pickled_ids_asks_to_retrain(tmp_path):
    folder = tmp_path / "m"
    _model().save(folder)
    with np.load(folder / "model.npz", allow_pickle=False) as z:
        arrays = {name: z[name] for name in z.files if name != "format"}
    arrays["item_ids"] = np.array(["TENT-1", "BOOT-ü2", "MUG-3"], dtype=object)  # what older versions wrote
    np.savez(folder / "model.npz", **arrays)
    with pytest.raises(RetrievalError, match=r"older format.*shopbot recs train"):
        RecsModel.load(folder)
