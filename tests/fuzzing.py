"""Hypothesis profiles: the same examples on every CI run, random and longer ones on demand.

``make test`` runs the "ci" profile: derandomized (the examples come from a fixed seed derived from
each test) and with no example database, so a run never depends on what an earlier run found.
``make test-fuzz`` sets ``HYPOTHESIS_PROFILE=fuzz``: random examples, :data:`FUZZ_SCALE` times as
many, and the local example database on, so that a failure found once is tried first next time.

A test whose property is expensive sets its own example count through :func:`examples`, which the
fuzz profile scales up.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
#: How many times more examples the fuzz profile tries than CI (``SIM_DESK_FUZZ_SCALE``).
FUZZ_SCALE = int(os.environ.get("SIM_DESK_FUZZ_SCALE", "50"))

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    deadline=None,
    max_examples=100 * FUZZ_SCALE,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(PROFILE)


def examples(count: int) -> int:
    """``count`` examples in CI; :data:`FUZZ_SCALE` times as many when fuzzing."""
    return count * FUZZ_SCALE if PROFILE == "fuzz" else count
