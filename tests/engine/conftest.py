from __future__ import annotations

import pytest

from engine.matcher import MatcherLike, matcher_class, pure_requested


@pytest.fixture(params=["cython", "python"])
def Matcher(request: pytest.FixtureRequest) -> type[MatcherLike]:
    """Every matcher test runs against both implementations."""
    if request.param == "cython" and pure_requested():
        pytest.skip("ONDO_PUREPYTHON=1 forces the pure-Python matcher")
    return matcher_class(pure=request.param == "python")
