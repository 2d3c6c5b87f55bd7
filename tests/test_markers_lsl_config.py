"""Marker coding and the loopback-only LSL configuration."""

import os

from neurospell import markers
from neurospell.config import LslConfig
from neurospell.lsl import lsl_config_text


def test_flash_round_trip_all_forms():
    for code in (1, 7, 12, 99):
        for target in (None, True, False):
            s = markers.flash_to_str(code, target)
            a = markers.flash_to_annotation(code, target)
            assert markers.parse_flash(s) == markers.FlashInfo(code, target)
            assert markers.parse_flash(a) == markers.FlashInfo(code, target)
        assert markers.parse_flash(markers.flash_to_int(code, True)) == markers.FlashInfo(code, True)
    assert markers.parse_flash("trial:1:A") is None
    assert markers.parse_trial("trial:1:A") == (1, "A")
    assert markers.parse_trial("trial/4/ ") == (4, " ")


def test_lsl_configured_loopback_before_first_call():
    text = lsl_config_text(LslConfig())
    assert "ResolveScope = machine" in text and "KnownPeers = {127.0.0.1}" in text and "IPv6 = disable" in text
    path = os.environ["LSLAPICFG"]  # set by conftest before any LSL call
    assert open(path).read() == text
