"""Session folders recorded by an older version replay bit for bit (issue 19's contract).

``tests/data/sessions/`` holds session folders written by ``neurospell spell --out`` before
the live session was split into collaborators (see ``tests/data/README.md``). A refactor of
the live path, the driver, the engine, the decoder or the LM that changes any decision,
posterior or flash count of these sessions fails here.
"""

import json
import shutil
from pathlib import Path

import pytest

from neurospell.cli import main
from neurospell.session.sessiondir import replay_session

SESSIONS = sorted((Path(__file__).parent / "data" / "sessions").iterdir())


def _live_decisions(folder: Path) -> list[dict]:
    lines = (folder / "derivatives" / "neurospell" / "decisions.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("type") == "decision"]


@pytest.mark.parametrize("recorded", SESSIONS, ids=[p.name for p in SESSIONS])
def test_recorded_session_replays_bit_for_bit(recorded, tmp_path, capsys):
    folder = tmp_path / recorded.name
    shutil.copytree(recorded, folder)  # (nothing may be written into the repository)
    live = _live_decisions(folder)
    assert len(live) >= 5
    report = replay_session(folder)
    replayed = [d for run in report.runs for d in run.replayed]
    assert report.reproduced, report.lines()
    assert len(replayed) == len(live)
    for lv, rp in zip(live, replayed, strict=True):
        assert rp["symbol"] == lv["symbol"]
        assert rp["n_flashes"] == lv["n_flashes"]
        assert rp["posterior"] == lv["posterior"]  # bit for bit, not approximately
    assert main(["replay", str(folder)]) == 0
    assert f"{len(live)}/{len(live)} decisions reproduced" in capsys.readouterr().out
