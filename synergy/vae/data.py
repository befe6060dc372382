"""dSprites for the VAE trainer: the real ``.npz`` when the user has it, otherwise a replica.

The replica draws any image of the factor grid on demand, with the real images' geometry.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from synergy._validate import InvalidParameterError, describe, invalid

if TYPE_CHECKING:
    import torch

__all__ = [
    "DSPRITES_FILENAME",
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "DSprites",
    "factor_values",
    "render",
]

DSPRITES_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
FACTOR_NAMES: tuple[str, ...] = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES: tuple[int, ...] = (1, 3, 6, 40, 32, 32)
IMAGE_SIZE = 64
N_IMAGES = math.prod(FACTOR_SIZES)  # 737,280
# Row-major strides of the full grid, posY fastest, as in the real file.
_FULL_STRIDES = np.array(
    [math.prod(FACTOR_SIZES[i + 1 :]) for i in range(len(FACTOR_SIZES))], dtype=np.int64
)

# Geometry of the replica, in pixels at scale 1 (the real images, measured; see DESIGN.md).
_SQUARE_HALF_SIDE = 9.6
_ELLIPSE_SEMI_AXES = (12.75, 7.25)
# Heart: two overlapping discs (the lobes) over a triangle that ends in the point. The numbers
# were fitted so that the pixel counts at orientation 0 match the real images within 3%.
_HEART_WIDTH, _HEART_HEIGHT, _HEART_LOBE_OVERLAP = 19.5, 17.5, 0.85


def factor_values() -> tuple[np.ndarray, ...]:
    """The value of every class of every dSprites factor, as in ``latents_values``.

    Returns
    -------
    tuple of ndarray
        One float64 array per factor, in ``FACTOR_NAMES`` order: color ``[1.]``, shape
        ``[1., 2., 3.]`` (square, ellipse, heart), scale ``linspace(0.5, 1, 6)``, orientation
        ``linspace(0, 2 pi, 40)`` (radians; the first and last coincide), posX and posY
        ``linspace(0, 1, 32)``.

    Examples
    --------
    >>> [len(v) for v in factor_values()]
    [1, 3, 6, 40, 32, 32]
    """
    return (
        np.array([1.0]),
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2.0 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )


def _heart_parameters() -> tuple[float, float, float, float, float, float]:
    """Lobe radius r, lobe offset d, point depth p, tangent point (tx, ty), centring shift."""
    r = _HEART_WIDTH / 2 / (1 + _HEART_LOBE_OVERLAP)
    d = _HEART_LOBE_OVERLAP * r
    p = _HEART_HEIGHT - r
    # The straight sides run from the point (0, -p) tangent to each lobe.
    beta = math.atan2(-p, -d)
    alpha = math.acos(r / math.hypot(d, p))
    candidates = [
        (d + r * math.cos(beta + s * alpha), r * math.sin(beta + s * alpha)) for s in (1, -1)
    ]
    tx, ty = max(candidates)
    return r, d, p, tx, ty, (r - p) / 2


_HEART = _heart_parameters()


def render(classes: np.ndarray) -> np.ndarray:
    """Draw dSprites-like images for full-grid factor classes.

    Parameters
    ----------
    classes : array_like of int, shape (B, 6)
        Factor classes in ``FACTOR_NAMES`` order, indices into the full grid (as the real
        file's ``latents_classes``).

    Returns
    -------
    ndarray of uint8, shape (B, 64, 64)
        Binary images (0 or 1), rows top to bottom, columns left to right.

    Notes
    -----
    A pixel ``(row, col)`` is on when its centre ``(col + 0.5, row + 0.5)``, moved to the shape's
    frame, lies inside the shape. The pivot sits at column ``16 + 32 posX``, row ``16 + 32 posY``
    (posY grows downwards); the shape turns counter-clockwise on screen by the orientation
    angle and is scaled about the pivot. Square: side ``19.2 scale``. Ellipse: semi-axes
    ``12.75 x 7.25 scale``, major axis horizontal at orientation 0. Heart: about ``19.5 x 17.5
    scale``, lobes up, its bounding box centred on the pivot. Orientation class 39 (2 pi) is
    drawn as class 0 so that the two coincide exactly, as in the real images.

    Examples
    --------
    >>> img = render(np.array([[0, 0, 5, 0, 0, 0]]))  # the largest square, top left
    >>> int(img.sum())
    400
    """
    classes = np.asarray(classes, dtype=np.int64).reshape(-1, len(FACTOR_NAMES))
    _, _, scales, orientations, pos_x, pos_y = factor_values()
    shape = classes[:, 1]
    scale = scales[classes[:, 2]][:, None, None]
    theta = orientations[classes[:, 3] % (FACTOR_SIZES[3] - 1)][:, None, None]
    cx = (16.0 + 32.0 * pos_x[classes[:, 4]])[:, None, None]
    cy = (16.0 + 32.0 * pos_y[classes[:, 5]])[:, None, None]
    centres = np.arange(IMAGE_SIZE, dtype=np.float64) + 0.5
    u = centres[None, None, :] - cx  # to the right
    v = cy - centres[None, :, None]  # upwards on screen
    cos, sin = np.cos(theta), np.sin(theta)
    # Undo a counter-clockwise turn and the scaling: shape-frame coordinates at scale 1.
    a = (u * cos + v * sin) / scale
    b = (-u * sin + v * cos) / scale
    out = np.zeros((len(classes), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for k, inside in enumerate((_square, _ellipse, _heart)):
        rows = np.flatnonzero(shape == k)
        if rows.size:
            out[rows] = inside(a[rows], b[rows])
    return out


def _square(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.abs(a) <= _SQUARE_HALF_SIDE) & (np.abs(b) <= _SQUARE_HALF_SIDE)


def _ellipse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ra, rb = _ELLIPSE_SEMI_AXES
    return (a / ra) ** 2 + (b / rb) ** 2 <= 1.0


def _heart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r, d, p, tx, ty, shift = _HEART
    b = b + shift
    lobes = (np.abs(a) - d) ** 2 + b**2 <= r * r
    wedge = (b >= -p) & (b <= ty) & (np.abs(a) <= tx * (b + p) / (ty + p))
    return lobes | wedge


def _choose_classes(name: str, size: int, available: np.ndarray, spec: Any) -> np.ndarray:
    """Resolve one entry of ``factors=``: a count (evenly spread) or explicit classes."""
    func = "DSprites"
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        k = int(spec)
        if not 1 <= k <= len(available):
            raise invalid(
                f"factors[{name!r}]", func, f"a count in [1, {len(available)}]", describe(spec)
            )
        if name == "orientation" and len(available) == size:
            # 0 and 2 pi are the same picture: spread over the 39 distinct angles.
            picks = np.floor(np.arange(k) * (size - 1) / k).astype(np.int64)
        else:
            picks = np.round(np.linspace(0, len(available) - 1, k)).astype(np.int64)
        return available[np.unique(picks)]
    try:
        chosen = np.asarray(spec, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise invalid(
            f"factors[{name!r}]",
            func,
            "an int count or a sequence of class indices",
            describe(spec),
        ) from None
    if chosen.size == 0 or not np.isin(chosen, available).all() or len(set(chosen)) != chosen.size:
        raise invalid(
            f"factors[{name!r}]",
            func,
            f"distinct class indices among {available.tolist()}",
            describe(spec),
        )
    return np.sort(chosen)


def _read_packed_images(path: str, chunk_rows: int = 8192) -> np.ndarray:
    """Stream ``imgs`` out of the .npz and keep one bit per pixel: (N, 64, 8) uint8.

    The real file's images are 0/1 bytes, 3 GB once decompressed; reading the array member
    in chunks and packing the bits needs 368 MB and never holds the whole byte array.
    Non-zero pixels count as on. No pickle is ever read (object arrays are refused).
    """
    with zipfile.ZipFile(path) as archive, archive.open("imgs.npy") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if dtype.hasobject or len(shape) != 3 or shape[1:] != (IMAGE_SIZE,) * 2 or fortran:
            raise invalid(
                "path",
                "DSprites",
                "an .npz whose imgs is a C-ordered numeric (N, 64, 64) array",
                f"imgs of shape {shape}, dtype {dtype}, fortran order {fortran}",
            )
        n, height, width = shape
        packed = np.empty((n, height, (width + 7) // 8), dtype=np.uint8)
        row_bytes = height * width * dtype.itemsize
        for start in range(0, n, chunk_rows):
            stop = min(start + chunk_rows, n)
            buffer = f.read((stop - start) * row_bytes)
            if len(buffer) != (stop - start) * row_bytes:
                raise EOFError(f"imgs.npy ends after {start * row_bytes + len(buffer)} bytes")
            block = np.frombuffer(buffer, dtype=dtype).reshape(stop - start, height, width)
            packed[start:stop] = np.packbits(block != 0, axis=-1)
    return packed


def _bad_file(path: str, what: str) -> Exception:
    return invalid(
        "path",
        "DSprites",
        f"the dSprites .npz file ({DSPRITES_FILENAME})",
        f"{path!r}, which {what},",
        hint="Download it again from https://github.com/deepmind/dsprites-dataset, or pass "
        "path=None for the procedural replica.",
    )


def _check_latents_classes(path: str, classes: np.ndarray) -> np.ndarray:
    """Refuse class rows that do not index the factor grid once each; return them as int64."""
    if classes.ndim != 2 or classes.shape[1] != len(FACTOR_NAMES):
        raise _bad_file(path, f"has latents_classes of shape {classes.shape}, not (N, 6)")
    if classes.dtype.kind not in "iu":
        raise _bad_file(path, f"has latents_classes of dtype {classes.dtype}, not integers")
    classes = classes.astype(np.int64)
    bad = (classes < 0) | (classes >= np.array(FACTOR_SIZES))
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise _bad_file(
            path,
            f"has latents_classes[{row}, {col}] = {classes[row, col]}, outside the "
            f"{FACTOR_NAMES[col]} classes 0..{FACTOR_SIZES[col] - 1}",
        )
    full = classes @ _FULL_STRIDES
    order = np.argsort(full, kind="stable")
    repeats = np.flatnonzero(np.diff(full[order]) == 0)
    if repeats.size:
        first, again = sorted(map(int, order[repeats[0] : repeats[0] + 2]))
        raise _bad_file(
            path,
            f"has the same latents_classes in rows {first} and {again} "
            f"({classes[first].tolist()})",
        )
    return classes


class DSprites:
    """The dSprites factor grid and its images: the real file or a procedural replica.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The DeepMind file ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (or a directory
        holding it). Loaded with ``allow_pickle=False``; its pickled ``metadata`` entry is never
        read. Images are kept at one bit per pixel (368 MB for the full file instead of
        3 GB) and unpacked per batch. Without a path, images are drawn on demand by
        :func:`render`.
    factors : mapping of str to int or sequence of int, optional
        A smaller grid for quick runs: per factor name, either a count of evenly spread classes
        or the class indices to keep, e.g. ``{"posX": 8, "posY": 8}``. Factors not named keep
        all their classes. Class indices always refer to the full grid. Orientation counts
        spread over the 39 distinct angles (0 and 2 pi are one picture), so
        ``{"orientation": 40}`` keeps 39.
    cache : bool
        Draw every image of the (reduced) grid once, up front, and keep them as uint8
        (4 KiB per image): worth it for small grids that are sampled many times.

    Attributes
    ----------
    classes : tuple of ndarray
        The full-grid classes kept for each factor.
    sizes : tuple of int
        How many classes each factor keeps; ``len(self)`` is their product.

    Notes
    -----
    Indices run over the (possibly reduced) grid in row-major order with posY fastest, as the
    real file's rows do. Images stay ``uint8`` and are converted per batch by :meth:`batch`.

    Examples
    --------
    >>> data = DSprites(factors={"scale": 2, "orientation": 4, "posX": 4, "posY": 4})
    >>> len(data), data[0].shape, data[0].dtype
    (384, (64, 64), dtype('uint8'))
    >>> data.latents_classes([0])
    array([[0, 0, 0, 0, 0, 0]])
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        factors: Mapping[str, int | Sequence[int]] | None = None,
        cache: bool = False,
    ) -> None:
        self.path = None if path is None else os.fspath(path)
        self._imgs: np.ndarray | None = None
        self._row_of_full: np.ndarray | None = None
        available = [np.arange(n, dtype=np.int64) for n in FACTOR_SIZES]
        if self.path is not None:
            available = self._load(self.path)
        factors = dict(factors or {})
        unknown = sorted(set(factors) - set(FACTOR_NAMES))
        if unknown:
            raise invalid(
                "factors",
                "DSprites",
                f"a mapping with keys among {list(FACTOR_NAMES)}",
                repr(unknown),
            )
        self.classes = tuple(
            _choose_classes(name, FACTOR_SIZES[i], available[i], factors[name])
            if name in factors
            else available[i]
            for i, name in enumerate(FACTOR_NAMES)
        )
        self.sizes = tuple(len(c) for c in self.classes)
        self._strides = np.array(
            [math.prod(self.sizes[i + 1 :]) for i in range(len(self.sizes))], dtype=np.int64
        )
        self._values = factor_values()
        self._cache: np.ndarray | None = None
        if cache and self._imgs is None:
            chunks = [
                render(self.latents_classes(np.arange(start, min(start + 4096, len(self)))))
                for start in range(0, len(self), 4096)
            ]
            self._cache = np.concatenate(chunks)

    def _load(self, path: str) -> list[np.ndarray]:
        if os.path.isdir(path):
            path = os.path.join(path, DSPRITES_FILENAME)
        if not os.path.isfile(path):
            raise invalid(
                "path",
                "DSprites",
                f"the dSprites .npz file ({DSPRITES_FILENAME}) or a directory holding it",
                repr(path),
                hint="Download it from https://github.com/deepmind/dsprites-dataset, or pass "
                "path=None for the procedural replica.",
            )
        with open(path, "rb") as f:
            head = f.read(6)
        if not head:
            raise _bad_file(path, "is empty")
        if head == b"\x93NUMPY":
            raise _bad_file(path, "is a single .npy array, not an .npz archive")
        if not head.startswith(b"PK\x03\x04"):
            raise _bad_file(path, "is not a zip archive (an .npz starts with the bytes PK)")
        try:
            with np.load(path, allow_pickle=False) as npz:
                missing = {"imgs", "latents_classes"} - set(npz.files)
                if missing:
                    raise invalid(
                        "path",
                        "DSprites",
                        "an .npz with `imgs` and `latents_classes`",
                        f"{sorted(npz.files)}",
                    )
                latent_classes = npz["latents_classes"]
            latent_classes = _check_latents_classes(path, latent_classes)
            imgs = _read_packed_images(path)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
            if isinstance(exc, InvalidParameterError):
                raise
            reason = f"is truncated or damaged ({type(exc).__name__}: {exc})"
            raise _bad_file(path, reason) from exc
        n = len(imgs)
        if latent_classes.shape[0] != n:
            raise invalid(
                "path",
                "DSprites",
                "an .npz with imgs (N, 64, 64) and latents_classes (N, 6)",
                f"{n} images and latents_classes of shape {latent_classes.shape}",
            )
        full = latent_classes @ _FULL_STRIDES
        # The real file is complete and ordered (row == full index); a partial file maps by lookup.
        if n == N_IMAGES and np.array_equal(full, np.arange(N_IMAGES)):
            self._row_of_full = None
        else:
            row_of = np.full(N_IMAGES, -1, dtype=np.int64)
            row_of[full] = np.arange(n)
            self._row_of_full = row_of
        self._imgs = imgs
        available = [np.unique(latent_classes[:, i]) for i in range(6)]
        if math.prod(len(a) for a in available) != n:
            raise invalid(
                "path",
                "DSprites",
                "a file that covers a full product of factor classes",
                f"{n} rows for class counts {[len(a) for a in available]}",
                kind=InvalidParameterError,
            )
        return available

    def __len__(self) -> int:
        return math.prod(self.sizes)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.images(np.array([index]))[0]

    def _check_indices(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise invalid("indices", "DSprites", f"indices in [0, {len(self)})", describe(indices))
        return idx

    def factors_of(self, indices: Any) -> np.ndarray:
        """Grid positions ``(B, 6)`` (indices into ``self.classes``) of dataset indices."""
        idx = self._check_indices(indices)
        return (idx[:, None] // self._strides[None, :]) % np.array(self.sizes)[None, :]

    def index_of(self, positions: Any) -> np.ndarray:
        """Dataset indices of grid positions ``(B, 6)``; the inverse of :meth:`factors_of`."""
        pos = np.asarray(positions, dtype=np.int64).reshape(-1, 6)
        if (pos < 0).any() or (pos >= np.array(self.sizes)).any():
            raise invalid(
                "positions",
                "DSprites.index_of",
                f"grid positions below {self.sizes}",
                describe(positions),
            )
        return pos @ self._strides

    def latents_classes(self, indices: Any) -> np.ndarray:
        """Full-grid factor classes ``(B, 6)`` int64, as the real file's ``latents_classes``."""
        pos = self.factors_of(indices)
        return np.stack([self.classes[i][pos[:, i]] for i in range(6)], axis=1)

    def latents_values(self, indices: Any) -> np.ndarray:
        """Factor values ``(B, 6)`` float64, as the real file's ``latents_values``."""
        cls = self.latents_classes(indices)
        return np.stack([self._values[i][cls[:, i]] for i in range(6)], axis=1)

    def images(self, indices: Any) -> np.ndarray:
        """Images ``(B, 64, 64)`` uint8 of dataset indices."""
        if self._cache is not None:
            return self._cache[self._check_indices(indices)]
        cls = self.latents_classes(indices)
        if self._imgs is None:
            return render(cls)
        full = cls @ _FULL_STRIDES
        rows = full if self._row_of_full is None else self._row_of_full[full]
        return np.unpackbits(self._imgs[rows], axis=-1)

    def batch(
        self,
        indices: Any,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """Images of ``indices`` as a float tensor ``(B, 1, 64, 64)`` in {0, 1} for a model."""
        import torch

        imgs = torch.from_numpy(self.images(indices)).unsqueeze(1)
        return imgs.to(device=device, dtype=dtype or torch.get_default_dtype())

    def sample(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """Draw ``batch_size`` indices uniformly with replacement from ``rng``."""
        return rng.integers(0, len(self), size=batch_size)
