"""The dSprites loader and the procedural replica: grid order, geometry, safe loading."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synergy._validate import InvalidParameterError
from synergy.vae.data import FACTOR_SIZES, N_IMAGES, DSprites, factor_values, render

# Pixel counts of the real dSprites images at orientation 0, scales 0.5..1.0, pivot on an integer
# pixel (posX, posY classes 0 or 31); measured on dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz
# and recorded in DESIGN.md ("Measured geometry of the real images").
REAL_COUNTS = {
    0: [100, 144, 196, 256, 324, 400],  # square
    1: [76, 104, 144, 184, 228, 288],  # ellipse
    2: [58, 84, 108, 140, 182, 222],  # heart
}


def test_full_grid_size_and_values():
    data = DSprites()
    assert len(data) == N_IMAGES == 737_280
    values = factor_values()
    np.testing.assert_allclose(values[3][[0, -1]], [0.0, 2 * np.pi])
    np.testing.assert_allclose(values[2], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])


def test_index_factor_round_trip_and_posy_fastest():
    data = DSprites()
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(data), size=500)
    np.testing.assert_array_equal(data.index_of(data.factors_of(idx)), idx)
    np.testing.assert_array_equal(data.latents_classes([1])[0], [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(data.latents_classes([32])[0], [0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(
        data.latents_classes([N_IMAGES - 1])[0], np.array(FACTOR_SIZES) - 1
    )


def test_reduced_grid_keeps_full_classes():
    data = DSprites(factors={"posX": 4, "posY": [0, 31], "orientation": 4})
    assert data.sizes == (1, 3, 6, 4, 4, 2)
    np.testing.assert_array_equal(data.classes[4], [0, 10, 21, 31])
    # Orientation picks skip class 39, the same picture as class 0.
    np.testing.assert_array_equal(data.classes[3], [0, 9, 19, 29])
    idx = np.arange(len(data))
    np.testing.assert_array_equal(data.index_of(data.factors_of(idx)), idx)
    full = DSprites()
    cls = data.latents_classes(idx[::7])
    full_idx = full.index_of(cls)
    np.testing.assert_array_equal(data.images(idx[::7]), full.images(full_idx))


def test_bad_factors_raise():
    with pytest.raises(InvalidParameterError, match="factors"):
        DSprites(factors={"size": 3})
    with pytest.raises(InvalidParameterError, match="posX"):
        DSprites(factors={"posX": 0})
    with pytest.raises(InvalidParameterError, match="indices"):
        DSprites().images([N_IMAGES])


def test_orientation_zero_and_two_pi_identical():
    cls = np.array([[0, s, 5, 0, 7, 20] for s in range(3)])
    last = cls.copy()
    last[:, 3] = 39
    np.testing.assert_array_equal(render(cls), render(last))


@pytest.mark.parametrize("shape", [0, 1, 2])
@pytest.mark.parametrize("pos", [0, 31])
def test_pixel_count_fingerprints(shape, pos):
    cls = np.array([[0, shape, s, 0, pos, pos] for s in range(6)])
    counts = render(cls).reshape(6, -1).sum(axis=1)
    np.testing.assert_allclose(counts, REAL_COUNTS[shape], rtol=0.03)


def test_geometry_pivot_rotation_and_orientation():
    # Ellipse at scale 1: wide at orientation 0, tall a quarter turn later.
    quarter = 10  # orientation class 10 is 10 * 2pi/39, a little past pi/2
    img0 = render(np.array([[0, 1, 5, 0, 0, 0]]))[0]
    rows, cols = np.nonzero(img0)
    assert cols.max() - cols.min() > rows.max() - rows.min()
    np.testing.assert_allclose([rows.mean() + 0.5, cols.mean() + 0.5], [16, 16], atol=0.01)
    img90 = render(np.array([[0, 1, 5, quarter, 0, 0]]))[0]
    rows, cols = np.nonzero(img90)
    assert rows.max() - rows.min() > cols.max() - cols.min()
    # posX moves the pivot right, posY down: class 31 puts it at 48.
    img = render(np.array([[0, 0, 5, 0, 31, 0]]))[0]
    rows, cols = np.nonzero(img)
    np.testing.assert_allclose([rows.mean() + 0.5, cols.mean() + 0.5], [16, 48])
    # Heart lobes up: the upper half is wider than the lower half.
    heart = render(np.array([[0, 2, 5, 0, 15, 15]]))[0]
    rows, cols = np.nonzero(heart)
    mid = (rows.min() + rows.max()) / 2
    assert np.ptp(cols[rows < mid]) > np.ptp(cols[rows > mid + 3])


def test_rotation_is_counter_clockwise_on_screen():
    # A heart turned a little counter-clockwise tips its point to the right (point is at the
    # bottom; CCW on screen moves the bottom towards the right).
    heart = render(np.array([[0, 2, 5, 4, 15, 15]]))[0]  # about 37 degrees
    rows, cols = np.nonzero(heart)
    bottom = rows >= rows.max() - 1
    assert cols[bottom].mean() + 0.5 > 16 + 32 * 15 / 31


def _write_npz(path, data):
    idx = np.arange(len(data))
    metadata = np.array([{"evil": "pickled"}], dtype=object)
    np.savez_compressed(
        path,
        imgs=data.images(idx),
        latents_values=data.latents_values(idx),
        latents_classes=data.latents_classes(idx),
        metadata=metadata,
    )


def test_loader_reads_real_keys_and_never_unpickles(tmp_path, monkeypatch):
    small = DSprites(factors={"scale": [2, 5], "orientation": [0, 13], "posX": 2, "posY": 3})
    path = tmp_path / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    _write_npz(path, small)

    def refuse(*args, **kwargs):
        raise AssertionError("the loader must not unpickle anything")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    loaded = DSprites(tmp_path)
    assert loaded.sizes == small.sizes
    idx = np.arange(len(small))
    np.testing.assert_array_equal(loaded.images(idx), small.images(idx))
    np.testing.assert_array_equal(loaded.latents_classes(idx), small.latents_classes(idx))
    assert loaded.images(idx).dtype == np.uint8
    sub = DSprites(path, factors={"shape": [1]})
    np.testing.assert_array_equal(
        sub.images([0]), small.images(small.index_of([[0, 1, 0, 0, 0, 0]]))
    )
    with np.load(path, allow_pickle=False) as npz, pytest.raises(ValueError, match="allow_pickle"):
        npz["metadata"]


def test_loader_errors(tmp_path):
    with pytest.raises(InvalidParameterError, match="path"):
        DSprites(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", imgs=np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(InvalidParameterError, match="latents_classes"):
        DSprites(tmp_path / "bad.npz")


def test_batch_tensor():
    torch = pytest.importorskip("torch")
    data = DSprites(factors={"posX": 2, "posY": 2})
    x = data.batch([0, 5])
    assert x.shape == (2, 1, 64, 64)
    assert x.dtype == torch.float32
    assert set(x.unique().tolist()) <= {0.0, 1.0}


def test_cache_gives_the_same_images():
    factors = {"scale": 2, "orientation": 3, "posX": 3, "posY": 3}
    lazy, cached = DSprites(factors=factors), DSprites(factors=factors, cache=True)
    idx = np.arange(len(lazy))[::-1]
    np.testing.assert_array_equal(lazy.images(idx), cached.images(idx))


def test_streamed_bit_packing_matches_the_array(tmp_path):
    from synergy.vae.data import _read_packed_images

    rng = np.random.default_rng(0)
    imgs = (rng.random((23, 64, 64)) < 0.3).astype(np.uint8)
    np.savez_compressed(tmp_path / "f.npz", imgs=imgs)
    packed = _read_packed_images(str(tmp_path / "f.npz"), chunk_rows=7)
    assert packed.shape == (23, 64, 8)
    np.testing.assert_array_equal(np.unpackbits(packed, axis=-1), imgs)


@settings(max_examples=25, deadline=None)
@given(
    counts=st.tuples(
        st.integers(1, 3),
        st.integers(1, 6),
        st.integers(1, 40),
        st.integers(1, 32),
        st.integers(1, 32),
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_reduced_grid_round_trip_property(counts, seed):
    names = ("shape", "scale", "orientation", "posX", "posY")
    data = DSprites(factors=dict(zip(names, counts, strict=True)))
    idx = np.random.default_rng(seed).integers(0, len(data), size=20)
    np.testing.assert_array_equal(data.index_of(data.factors_of(idx)), idx)
    cls = data.latents_classes(idx)
    full = DSprites()
    np.testing.assert_array_equal(full.latents_classes(full.index_of(cls)), cls)
    # Orientation picks never include both 0 and 2 pi (the same picture).
    assert not {0, 39} <= set(data.classes[3].tolist())


def test_loader_refuses_object_images(tmp_path):
    from synergy.vae.data import _read_packed_images

    np.savez(tmp_path / "obj.npz", imgs=np.array([None, 1], dtype=object))
    with pytest.raises(InvalidParameterError, match="imgs"):
        _read_packed_images(str(tmp_path / "obj.npz"))


def _small_file(tmp_path):
    small = DSprites(factors={"shape": 2, "scale": 2, "orientation": 2, "posX": 2, "posY": 2})
    path = tmp_path / "small.npz"
    _write_npz(path, small)
    return small, path


def _write_classes(path, small, classes):
    idx = np.arange(len(small))
    np.savez(path, imgs=small.images(idx), latents_classes=classes)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # Class 3 of shape does not exist: dSprites has shapes 0, 1, 2 (FACTOR_SIZES).
        (lambda c: c.__setitem__((5, 1), 3), r"latents_classes\[5, 1\] = 3, outside the shape"),
        (lambda c: c.__setitem__((0, 4), -1), r"latents_classes\[0, 4\] = -1, outside the posX"),
        # Row 7 repeats row 2: two images claim the same grid point.
        (lambda c: c.__setitem__(7, c[2]), r"same latents_classes in rows 2 and 7"),
    ],
    ids=["too-large", "negative", "duplicate-row"],
)
def test_loader_refuses_invalid_latents_classes(tmp_path, edit, message):
    small, _ = _small_file(tmp_path)
    classes = small.latents_classes(np.arange(len(small)))
    edit(classes)
    path = tmp_path / "edited.npz"
    _write_classes(path, small, classes)
    with pytest.raises(InvalidParameterError, match=message) as info:
        DSprites(path)
    assert "edited.npz" in str(info.value)


def test_loader_refuses_float_latents_classes(tmp_path):
    small, _ = _small_file(tmp_path)
    path = tmp_path / "floats.npz"
    _write_classes(path, small, small.latents_classes(np.arange(len(small))).astype(float))
    with pytest.raises(InvalidParameterError, match="dtype float64, not integers"):
        DSprites(path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda blob, rng: b"", "is empty"),
        (lambda blob, rng: blob[: len(blob) // 2], "truncated or damaged"),
        (lambda blob, rng: blob[:-30], "truncated or damaged"),
        (lambda blob, rng: rng.bytes(len(blob)), "not a zip archive"),
        # Damage inside the compressed imgs member: the zip CRC (or zlib) catches it.
        (
            lambda blob, rng: blob[:400] + bytes(b ^ 0xFF for b in blob[400:432]) + blob[432:],
            "truncated or damaged",
        ),
    ],
    ids=["empty", "half", "tail-cut", "random-bytes", "flipped"],
)
def test_loader_names_the_damaged_file(tmp_path, damage, message):
    _, path = _small_file(tmp_path)
    blob = path.read_bytes()
    bad = tmp_path / "damaged.npz"
    bad.write_bytes(damage(blob, np.random.default_rng(0)))
    with pytest.raises(InvalidParameterError, match=message) as info:
        DSprites(bad)
    assert "damaged.npz" in str(info.value)
    assert "Got" in str(info.value)


def test_loader_refuses_a_bare_npy(tmp_path):
    np.save(tmp_path / "imgs.npy", np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(InvalidParameterError, match=r"single \.npy array"):
        DSprites(tmp_path / "imgs.npy")
