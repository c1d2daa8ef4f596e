"""Signatures of the shop's server requests: a timestamp is whole seconds in
ASCII digits, fresh within five minutes, and the signature covers it and the
body."""

from __future__ import annotations

import pytest

from engine.flow.signing import SignatureError, sign, verify

SECRET = "shop-secret-0123456789"
NOW = 1_795_000_000.0
BODY = b'{"events": []}'


def refusal(timestamp: str, signature: str | None = None, secret: str | None = SECRET) -> str:
    """The header a request signed (correctly, by default) with ``timestamp`` is refused for."""
    with pytest.raises(SignatureError) as info:
        verify(secret, timestamp, signature or sign(SECRET, timestamp, BODY), BODY, NOW)
    return info.value.field


def test_a_fresh_signed_request_passes() -> None:
    verify(SECRET, "1795000000", sign(SECRET, "1795000000", BODY), BODY, NOW)
    verify(SECRET, "1794999700", sign(SECRET, "1794999700", BODY).upper(), BODY, NOW)


@pytest.mark.parametrize("timestamp", [
    "nan",  # compared as fresh forever: the signature would replay for good
    "NaN", "inf", "-inf", "1e9", "1.795e9", "1795000000.0", " 1795000000", "1795000000 ",
    "+1795000000", "-1", "0x6afd2e80", "1_795_000_000", "١٧٩٥٠٠٠٠٠٠", "1" * 13])
def test_only_ascii_digits_are_a_timestamp(timestamp: str) -> None:
    assert refusal(timestamp) == "X-Ondo-Timestamp"


def test_a_stale_or_future_timestamp_is_refused() -> None:
    assert refusal("1794999699") == "X-Ondo-Timestamp"
    assert refusal("1795000301") == "X-Ondo-Timestamp"


def test_a_signature_with_a_character_outside_ascii_is_a_refusal_not_a_crash() -> None:
    assert refusal("1795000000", signature="ÿ" * 64) == "X-Ondo-Signature"


def test_a_site_without_a_secret_is_refused_as_a_wrong_signature() -> None:
    # The answer an unknown site gives: the very one a known site gives.
    with pytest.raises(SignatureError) as unknown:
        verify(None, "1795000000", sign(SECRET, "1795000000", BODY), BODY, NOW)
    with pytest.raises(SignatureError) as wrong:
        verify(SECRET, "1795000000", sign("another-secret", "1795000000", BODY), BODY, NOW)
    assert (unknown.value.field, str(unknown.value)) == (wrong.value.field, str(wrong.value))
