"""Shared test settings: hypothesis profiles sized for CI on 2 cores."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.register_profile(
    "dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# Derandomised in CI so that a red run reproduces; `HYPOTHESIS_PROFILE=dev` explores more.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
