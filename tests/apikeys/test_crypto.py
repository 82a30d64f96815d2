import re

import pytest

from apikeys import crypto

KEY_SHAPE = re.compile(r"^tnt_(live|test)_[0-9a-f]{64}[0-9a-f]{8}$")


def test_generated_key_has_the_documented_format():
    key = crypto.generate("live")
    assert KEY_SHAPE.match(key.raw)
    assert key.display_prefix == key.raw[:13]
    assert key.last_four == key.raw[-4:]
    assert crypto.generate("test").raw.startswith("tnt_test_")


def test_generated_keys_differ():
    assert len({crypto.generate().raw for _ in range(50)}) == 50


def test_parse_accepts_a_generated_key():
    raw = crypto.generate().raw
    parsed = crypto.parse(raw)
    assert parsed is not None
    assert parsed.raw == raw


@pytest.mark.parametrize("position", [9, 40, 72, 80])  # secret start/middle, checksum ends
def test_checksum_catches_a_single_character_change(position):
    raw = crypto.generate().raw
    assert len(raw) == 81
    changed = raw[:position] + ("0" if raw[position] != "0" else "1") + raw[position + 1 :]
    assert crypto.parse(changed) is None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "tnt_live_",
        "tnt_prod_" + "a" * 72,
        "TNT_live_" + "a" * 72,
        "x" * 81,
        "tnt_live_" + "g" * 72,
    ],
)
def test_parse_refuses_wrong_shapes(raw):
    assert crypto.parse(raw) is None


def test_parse_refuses_another_deployments_prefix(settings):
    raw = crypto.generate().raw
    settings.API_KEY_PREFIX = "acme"
    assert crypto.parse(raw) is None


def test_digest_depends_on_the_pepper(settings):
    settings.API_KEY_PEPPERS = {"k1": "pepper-one", "k2": "pepper-two"}
    raw = crypto.generate().raw
    assert crypto.digest(raw, "k1") != crypto.digest(raw, "k2")
    assert set(crypto.candidate_digests(raw)) == {
        crypto.digest(raw, "k1"),
        crypto.digest(raw, "k2"),
    }
    assert len(crypto.digest(raw, "k1")) == 64


def test_digest_is_hmac_sha256_of_the_whole_key_under_the_pepper(settings):
    """The stored digest's definition, as a fixed vector: keys digested before any change to
    how it is computed still verify."""
    settings.API_KEY_PEPPERS = {"k1": "pepper-one"}
    raw = "tnt_live_" + "ab" * 32 + "0badf00d"
    assert crypto.digest(raw, "k1") == (
        "a5953330a460b6430b0de6f3cbe13355c258e184bd6627391ac3b8de1d4ee83c"
    )


@pytest.mark.parametrize("pepper", ["", "p", "pepper-one", "x" * 64, "y" * 65, "é" * 100])
def test_digest_is_hmacs_for_any_pepper(settings, pepper):
    import hmac

    settings.API_KEY_PEPPERS = {"k1": pepper}
    for raw in (crypto.generate().raw, "", "tnt_test_" + "0" * 72):
        expected = hmac.new(pepper.encode(), raw.encode(), "sha256").hexdigest()
        assert crypto.digest(raw, "k1") == expected
        assert crypto.digest(raw, "k1") == expected  # (the kept states are copied, not used)
