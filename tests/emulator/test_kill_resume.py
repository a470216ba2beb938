"""Quick kill/resume run: SIGKILLed downloads, uploads, imports, emulator and a restore
campaign all end exact."""

from __future__ import annotations

import pytest

from bench.kill_resume import kill_resume

pytestmark = pytest.mark.slow


def test_quick_kill_resume() -> None:
    results = kill_resume(quick=True, seed=7)
    assert [o.kind for o in results] == ["download", "upload", "import", "emulator", "campaign"]
    for o in results:
        assert o.ok, o.line()
        assert o.kills + o.finished_early == 3, o.line()
    assert sum(o.kills for o in results) > 0, [o.line() for o in results]
