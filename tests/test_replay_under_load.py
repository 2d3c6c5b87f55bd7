"""Exact replay under load: live sessions run at the same time as each other and as a busy
process, with the default language model (the character transformer among its parts, which a
live session also asks for probes and word completions); the replay of each session folder
reproduces every decision and every flash score bit for bit."""

import subprocess
import sys
import time

from neurospell.session.sessiondir import SessionFolder, replay_session

N_SESSIONS = 2


def test_concurrent_live_sessions_under_load_replay_bit_for_bit(tmp_path):
    cfg = tmp_path / "lm.toml"
    # the prior always weighs (a chosen weight could be 0); the classic 6x6 grid (no backspace,
    # no word cells: one selection per character of the phrase)
    cfg.write_text("[lm]\nalpha = 1.5\n[speller]\nword_cells = 0\n")
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # a busy CPU
    runs = []
    try:
        for i in range(N_SESSIONS):
            out, log = tmp_path / f"live{i}", open(tmp_path / f"live{i}.log", "w")  # noqa: SIM115
            cmd = [sys.executable, "-m", "neurospell", "--config", cfg, "spell", "--source", "simulated",
                   "--headless", "--calibrate", "AB", "--copy", "HELLO", "--out", out, "--soa", "0.05",
                   "--inter-trial", "0.2", "--calibration-repetitions", "5", "--max-repetitions", "4",
                   "--decoder", "lda", "--amplitude", "10", "--seed", str(i)]
            runs.append((out, log, subprocess.Popen(list(map(str, cmd)), stdout=log, stderr=subprocess.STDOUT)))
        deadline = time.monotonic() + 480
        for _, _, p in runs:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        burner.kill()
        burner.wait()
        for _, log, p in runs:
            if p.poll() is None:
                p.kill()
                p.wait()
            log.close()
    for out, log, p in runs:
        assert p.returncode == 0, (tmp_path / log.name).read_text()[-3000:]
        folder = SessionFolder.open(out)
        assert folder.lm_id["name"] == "everyday"
        records = folder.read_log()
        assert folder.read_config().lm.alpha == 1.5
        n_live = sum(r["type"] == "decision" and r.get("task") == "spelling" for r in records)
        assert n_live >= 5
        rep = replay_session(folder)
        assert rep.same_models and rep.reproduced, rep.first_difference
        assert rep.n_decisions == rep.n_reproduced == n_live
        for r in rep.runs:  # every flash: same onset, group and score, bit for bit
            assert r.live_flashes == r.replayed_flashes and r.live_flashes
        keys = ("symbol", "posterior", "n_flashes", "text", "forced")
        assert [[d[k] for k in keys] for r in rep.runs for d in r.live] == [
            [d[k] for k in keys] for r in rep.runs for d in r.replayed]
