"""MIG (both protocols), FactorVAE score and mean activations on oracle and random codes."""

from __future__ import annotations

import numpy as np
import pytest

from synergy._validate import InvalidParameterError
from synergy.vae.data import DSprites
from synergy.vae.metrics import factor_vae_score, mean_activations, mig

GRID = {"scale": 3, "orientation": 4, "posX": 4, "posY": 4}


@pytest.fixture(scope="module")
def data():
    return DSprites(factors=GRID)


def oracle_for(data):
    """Outputs the factor values (shape, scale, orientation, posX, posY), nearly noiseless."""

    def encode(idx):
        values = data.latents_values(idx)[:, 1:]
        return values, np.full(values.shape, -12.0)

    return encode


def random_for(data, dims=6):
    """A fixed random code per image, independent of every factor."""
    codes = np.random.default_rng(123).standard_normal((len(data), dims))

    def encode(idx):
        return codes[idx], np.zeros((len(idx), dims))

    return encode


@pytest.mark.parametrize("protocol", ["chen", "dlib"])
def test_mig_oracle_is_one_and_random_is_near_zero(data, protocol):
    # An oracle has I(z_k; v_k) = H(v_k) and I(z_j; v_k) = 0 for j != k, so MIG = 1
    # (Chen et al. 2018, eq. 7); a code independent of the factors has MIG = 0 up to bias.
    good = mig(oracle_for(data), data, protocol=protocol, n_points=None, seed=0)
    bad = mig(random_for(data), data, protocol=protocol, n_points=None, seed=0)
    assert good.score == pytest.approx(1.0, abs=0.03)
    assert bad.score < 0.1
    expected = ("scale", "orientation", "posX", "posY")
    if protocol == "dlib":
        expected = ("shape", *expected)
    assert good.factors == expected
    np.testing.assert_allclose(good.gaps, 1.0, atol=0.08)  # Monte Carlo entropies


def test_mig_is_deterministic_under_a_seed(data):
    a = mig(random_for(data), data, protocol="chen", n_points=300, seed=5)
    b = mig(random_for(data), data, protocol="chen", n_points=300, seed=5)
    np.testing.assert_array_equal(a.mutual_information, b.mutual_information)


def test_mig_rejects_unknown_protocol(data):
    with pytest.raises(InvalidParameterError, match="protocol"):
        mig(oracle_for(data), data, protocol="kim")


def test_factor_vae_score_oracle_and_random(data):
    # Kim & Mnih (2018), sec. 4: an oracle scores 1; a code blind to the factors scores
    # about chance, 1/K with K = 5 varying factors here.
    good = factor_vae_score(oracle_for(data), data, n_train=100, n_eval=60, batch_size=16)
    bad = factor_vae_score(random_for(data), data, n_train=100, n_eval=60, batch_size=16)
    assert good == 1.0
    assert bad < 0.45


def test_mean_activations_recover_a_linear_code(data):
    def encode(idx):
        values = data.latents_values(idx)
        return np.stack([values[:, 2], values[:, 4] + 2 * values[:, 5]], 1), np.zeros(
            (len(idx), 2)
        )

    grids = mean_activations(encode, data, n_points=None)
    assert grids["scale"].shape == (3, 3, 2)
    assert grids["orientation"].shape == (3, 4, 2)
    assert grids["position"].shape == (4, 4, 2)
    np.testing.assert_allclose(grids["scale"][1, :, 0], [0.5, 0.7, 1.0])  # classes 0, 2, 5
    x = data.latents_values(data.index_of([[0, 0, 0, 0, i, 0] for i in range(4)]))[:, 4]
    np.testing.assert_allclose(grids["position"][:, 0, 1], x)
    sparse = mean_activations(encode, data, n_points=5, seed=0)
    assert np.isnan(sparse["position"]).any()


def test_model_encoder_wraps_a_vae(data):
    torch = pytest.importorskip("torch")
    from synergy.vae.metrics import model_encoder
    from synergy.vae.model import VAE

    torch.manual_seed(0)
    model = VAE(z_dim=3)
    mu, logvar = model_encoder(model, data, batch_size=5)(np.arange(12))
    assert mu.shape == logvar.shape == (12, 3)
    assert mu.dtype == np.float64
    assert model.training
