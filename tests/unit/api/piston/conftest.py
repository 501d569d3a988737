"""Piston's routes in process: sessions are opened by a fake that plays a script."""

import pytest

from unit.api.piston.fakes import FakeOpener, chunk, run_script


@pytest.fixture
def opener() -> FakeOpener:
    """Opens sessions that print "hi" and end; a test may give it another script."""
    return FakeOpener(run_script([chunk("hi\n")]))
