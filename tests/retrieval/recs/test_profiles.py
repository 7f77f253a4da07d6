"""Real-time profiles: O(1) decayed updates equal the full decayed sum, shift with new interests, persist."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import RecsSettings
from retrieval.recs.profiles import Profile, ProfileStore, event_weight

sys.path.insert(0, str(Path(__file__).parent))  # tests/ is no package; the recs test doubles live beside us
from recs_fakes import BagOfWordsEmbedder, shop_products  # noqa: E402

DAY = 86_400.0


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_incremental_update_equals_the_decayed_sum():
    settings = RecsSettings(half_life_days=10)
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(6, 8)).astype(np.float32)
    kinds = ["view", "click", "add_to_cart", "purchase", "view", "rate"]
    times = [0.0, 1 * DAY, 3 * DAY, 3.5 * DAY, 9 * DAY, 20 * DAY]
    p = Profile.empty("u", 8)
    for v, kind, t in zip(vecs, kinds, times, strict=True):
        p.update(kind, t, v, settings, value=5 if kind == "rate" else None)
    expected = sum(
        event_weight(k, 5 if k == "rate" else None) * 0.5 ** ((times[-1] - t) / 10 / DAY) * v
        for v, k, t in zip(vecs, kinds, times, strict=True)
    )
    np.testing.assert_allclose(p.long_vec, expected, rtol=1e-5)
    assert p.long_ts == times[-1]


def test_profile_shifts_after_a_few_events_in_a_new_category(tmp_path):
    settings = RecsSettings()
    products = shop_products()
    vectors = BagOfWordsEmbedder().encode([f"{p.title} {p.description}" for p in products])
    kitchen = [i for i, p in enumerate(products) if p.category == ["Kitchen"]]
    footwear = [i for i, p in enumerate(products) if p.category == ["Footwear"]]
    foot_centre = vectors[footwear].mean(0)
    store = ProfileStore(tmp_path / "profiles.db", vectors.shape[1], settings)
    t = 1_000_000.0
    for n, i in enumerate(kitchen[:5]):  # a week of kitchen browsing
        store.update("u1", "purchase", t + n * DAY, vectors[i], product_id=products[i].id, session_id=f"s{n}")
    before = store.get("u1").vector(t + 6 * DAY, settings)
    now = t + 7 * DAY
    for n, i in enumerate(footwear[:3]):  # then three footwear events in one session
        store.update("u1", "view" if n < 2 else "add_to_cart", now + 60 * n, vectors[i], product_id=products[i].id,
                     session_id="s-new")
    after = store.get("u1").vector(now + 200, settings)
    assert _cos(after, foot_centre) > _cos(before, foot_centre) + 0.2
    # the store persisted it: a fresh store (new process) reads the same state
    reopened = ProfileStore(tmp_path / "profiles.db", vectors.shape[1], settings).get("u1")
    np.testing.assert_allclose(reopened.vector(now + 200, settings), after, rtol=1e-5)
    assert reopened.events == 8
    assert reopened.recent[-1][:2] == (products[footwear[2]].id, "add_to_cart")
    # once the session has gone cold, the long-term mix speaks again (but remembers the new interest)
    later = reopened.vector(now + 2 * DAY, settings)
    assert _cos(later, foot_centre) < _cos(after, foot_centre)


def test_new_session_resets_the_short_term_vector():
    settings = RecsSettings()
    a, b = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    p = Profile.empty("u", 4)
    p.update("view", 0.0, a, settings, session_id="s1")
    p.update("view", 10.0, b, settings, session_id="s2")
    np.testing.assert_allclose(p.session_vec, b)
    assert p.session_id == "s2"


def test_bad_rating_pushes_the_profile_away():
    settings = RecsSettings()
    a, b = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    p = Profile.empty("u", 4)
    p.update("purchase", 0.0, a, settings)
    p.update("rate", 1.0, b, settings, value=1)
    assert p.long_vec[1] < 0
    assert p.vector(2.0, settings)[0] > 0


def test_profile_from_another_embedding_space_is_ignored(tmp_path):
    settings = RecsSettings()
    ProfileStore(tmp_path / "p.db", 4, settings).update("u", "view", 0.0, np.ones(4, np.float32) / 2)
    assert ProfileStore(tmp_path / "p.db", 8, settings).get("u") is None
    assert ProfileStore(tmp_path / "p.db", 4, settings).get("u") is not None


@pytest.mark.parametrize("kind", ["view", "click", "add_to_cart", "purchase", "search"])
def test_every_kind_has_a_positive_weight(kind):
    assert event_weight(kind) > 0
