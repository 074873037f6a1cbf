"""A detector's name is checked when the server starts; River loads when one is made."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modelport.errors import ConfigError
from modelport.monitoring.concept.detectors import DETECTORS, check_detector


def test_a_misspelt_detector_name_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError) as refused:
        check_detector("adwn")
    assert "adwn" in refused.value.message
    for name in DETECTORS:
        assert name in refused.value.message


def test_checking_names_imports_no_river_and_making_a_detector_does() -> None:
    probe = (
        "import sys\n"
        "from modelport.monitoring.concept.detectors import check_detector, make_detector\n"
        "for name in ('adwin', 'ddm', 'page_hinkley'):\n"
        "    check_detector(name)\n"
        "print('river' in sys.modules)\n"
        "make_detector('adwin').update(0.5)\n"
        "print('river' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
