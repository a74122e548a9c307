"""BaseMultiProvider, ZippedProvider and MixedProvider: exact batch composition against hand-
computed expectations, ddsp's ratio semantics, seeded determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.training import data
from ddsp_ref.training.data_multi import BaseMultiProvider, MixedProvider, ZippedProvider


def provider(base: int, n: int, seed: int = 0, **kw) -> data.InMemoryProvider:
    """Examples ``{'id': [base + i], 'x': [i, i]}``: each example names its source."""
    ids = (base + np.arange(n, dtype=np.float32))[:, None]
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None], 2, 1)
    return data.InMemoryProvider({"id": ids, "x": x}, seed=seed, **kw)


def ids(batch) -> list[int]:
    return batch["id"][:, 0].astype(int).tolist()


def test_zipped_batches_hand_computed():
    a, b = provider(100, 5), provider(200, 3)
    zp = ZippedProvider([a, b], batch_size_ratios=[2, 1])
    assert zp._batch_size_ratios == pytest.approx([2 / 3, 1 / 3])
    # batch 3 -> sizes int(3 * 2/3) = 2 and int(3 * 1/3) = 1; one epoch each, zipped: b's three
    # examples give three batches, a's five give three (the last one short: no drop).
    batches = list(zp.get_batch(3, shuffle=False, repeats=1))
    assert [(ids(x), ids(y)) for x, y in batches] == [
        ([100, 101], [200]),
        ([102, 103], [201]),
        ([104], [202]),
    ]
    # drop_remainder drops a's short batch, so the epoch ends after two.
    batches = list(zp.get_batch(3, shuffle=False, repeats=2, drop_remainder=True))
    assert [(ids(x), ids(y)) for x, y in batches] == [
        ([100, 101], [200]),
        ([102, 103], [201]),
    ] * 2
    # Default ratios (1.0 each, as ddsp): every provider gives the whole batch size.
    zp = ZippedProvider([a, b])
    batches = list(zp.get_batch(2, shuffle=False, repeats=1))
    assert [(ids(x), ids(y)) for x, y in batches] == [([100, 101], [200, 201]), ([102, 103], [202])]
    # The batch size truncates like ddsp's int(): 4 * 2/3 -> 2, 4 * 1/3 -> 1.
    zp = ZippedProvider([a, b], batch_size_ratios=[2, 1])
    x, y = next(iter(zp.get_batch(4, shuffle=False)))
    assert (len(ids(x)), len(ids(y))) == (2, 1)
    assert x["x"].shape == (2, 2)


def test_zipped_dataset_and_shuffled_epochs():
    a, b = provider(100, 4, seed=1), provider(200, 6, seed=2)
    zp = ZippedProvider([a, b])
    pairs = list(zp.get_dataset(shuffle=False))
    assert [(int(p["id"][0]), int(q["id"][0])) for p, q in pairs] == [
        (100, 200), (101, 201), (102, 202), (103, 203)]  # fmt: skip
    # Shuffled: each epoch is a permutation of each provider, the same for the same seeds.
    run = [(ids(x), ids(y)) for x, y in zp.get_batch(2, shuffle=True, repeats=3)]
    again = [(ids(x), ids(y)) for x, y in zp.get_batch(2, shuffle=True, repeats=3)]
    assert run == again and len(run) == 6
    for epoch in range(3):
        xs = sum((x for x, _ in run[2 * epoch : 2 * epoch + 2]), [])
        assert sorted(xs) == [100, 101, 102, 103]  # a's epoch in full
        expected_a = (100 + np.random.default_rng([1, epoch]).permutation(4)).tolist()
        assert xs == expected_a
    assert run[:2] != run[2:4] or run[2:4] != run[4:6]  # epochs reshuffle


def test_mixed_provider_one_epoch_holds_every_example_once_in_order():
    a, b, c = provider(100, 6), provider(200, 3), provider(300, 4)
    mp = MixedProvider([a, b, c], batch_size_ratios=[1, 2, 1], seed=5)
    stream = [int(e["id"][0]) for e in mp.get_dataset(shuffle=False)]
    assert sorted(stream) == list(range(100, 106)) + list(range(200, 203)) + list(range(300, 304))
    for base, n in ((100, 6), (200, 3), (300, 4)):  # each provider read in its own order
        assert [s for s in stream if base <= s < base + 100] == list(range(base, base + n))
    assert stream == [int(e["id"][0]) for e in mp.get_dataset(shuffle=False)]  # seeded
    other = MixedProvider([a, b, c], batch_size_ratios=[1, 2, 1], seed=6)
    assert stream != [int(e["id"][0]) for e in other.get_dataset(shuffle=False)]
    # Batches: repeat then batch (ddsp's DataProvider.get_batch): 13 examples per epoch.
    batches = list(mp.get_batch(5, shuffle=False, repeats=2))
    assert [len(ids(x)) for x in batches] == [5, 5, 5, 5, 5]  # 26 -> 5 full, remainder dropped
    flat = sum((ids(x) for x in batches), [])
    assert flat[:13] == stream  # epoch 0 is get_dataset's epoch
    second = flat[13:]  # 12 of epoch 1's 13: no repeats, fresh choices
    assert len(set(second)) == 12 and set(second) <= set(stream) and second != stream[:12]
    tail = list(mp.get_batch(5, shuffle=False, repeats=2, drop_remainder=False))[-1]
    assert len(ids(tail)) == 1


def test_mixed_provider_weights():
    # A zero weight: never drawn; the epoch is the other provider's examples in order.
    a, b = provider(100, 5), provider(200, 5)
    only_a = [int(e["id"][0]) for e in MixedProvider([a, b], [1, 0]).get_dataset(False)]
    assert only_a == [100, 101, 102, 103, 104]
    # Frequencies follow the weights while both last: 3:1 over the first 400 of 1600 + 1600.
    big_a, big_b = provider(0, 1600), provider(10000, 1600)
    mp = MixedProvider([big_a, big_b], batch_size_ratios=[3, 1], seed=0)
    first = [int(e["id"][0]) >= 10000 for _, e in zip(range(400), mp.get_dataset(False))]
    assert abs(np.mean(first) - 0.25) < 0.07  # ~3 sigma at n = 400


def test_multi_providers_reject_bad_input():
    a = provider(0, 3)
    with pytest.raises(ValueError, match="2 entries for 1 data providers"):
        ZippedProvider([a], [1, 2])
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        MixedProvider([a, a], [0, 0])
    with pytest.raises(ValueError, match="non-negative"):
        MixedProvider([a, a], [1, -1])
    with pytest.raises(ValueError, match="sample_rates differ"):
        ZippedProvider([a, provider(0, 3, sample_rate=8000)])
    with pytest.raises(ValueError, match="frame_rates differ"):
        ZippedProvider([a, provider(0, 3, frame_rate=100)])
    with pytest.raises(ValueError, match="data_providers is empty"):
        MixedProvider([])
    with pytest.raises(ValueError, match="not a multi provider"):
        ZippedProvider([ZippedProvider([a])])
    with pytest.raises(ValueError, match="every provider needs at least 1"):
        ZippedProvider([a, a], [9, 1]).get_batch(5)
    with pytest.raises(TypeError, match="combines datasets"):
        MixedProvider([a]).example(0)
    odd = data.InMemoryProvider({"id": np.zeros((2, 1)), "y": np.zeros((2, 1))})
    with pytest.raises(ValueError, match="need the same keys"):
        list(MixedProvider([a, odd], [1, 1]).get_dataset(False))
    assert isinstance(MixedProvider([a]), BaseMultiProvider)


def test_loaded_lazily_and_registered_with_gin_under_ddsps_data_names():
    import ddsp_ref.training as training

    assert training.data_multi.ZippedProvider is ZippedProvider
    gin = pytest.importorskip("gin")
    gin.clear_config()

    @gin.configurable("test_multi_holder")
    def holder(p=None):
        return p

    @gin.configurable("test_multi_source")
    def source(base=0):
        return provider(base, 2)

    try:
        gin.parse_config(
            "import ddsp_ref\n"
            "test_multi_holder.p = @data.ZippedProvider()\n"
            "ZippedProvider.data_providers = [@test_multi_source(), @test_multi_source()]\n"
            "ZippedProvider.batch_size_ratios = [1, 3]\n"
        )
        zp = holder()
    finally:
        gin.clear_config()
    assert isinstance(zp, ZippedProvider) and zp._batch_size_ratios == [0.25, 0.75]
