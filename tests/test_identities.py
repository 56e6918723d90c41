from __future__ import annotations

import pytest

from checks.errors import ConfigError
from storage.identities import IdentityProtector

KEY = "k" * 40


def test_pseudonym_is_stable_keyed_and_reveals_nothing() -> None:
    a, b = IdentityProtector(KEY), IdentityProtector("z" * 40)
    assert a.pseudonym(424242) == IdentityProtector(KEY).pseudonym(424242)
    assert a.pseudonym(424242) != a.pseudonym(424243)
    assert a.pseudonym(424242) != b.pseudonym(424242)
    assert "424242" not in a.pseudonym(424242)


def test_chat_id_round_trips_only_with_the_same_key() -> None:
    a = IdentityProtector(KEY)
    sealed = a.seal_chat_id(-1001234567890)
    assert b"1234567890" not in sealed
    assert a.open_chat_id(sealed) == -1001234567890
    assert IdentityProtector("y" * 40).open_chat_id(sealed) is None


def test_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="TIPLINE_SECRET_KEY"):
        IdentityProtector("short")
