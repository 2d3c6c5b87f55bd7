"""The BNCI Horizon 2020 003-2015 reader (preprocessing/read_bnci.py) on the real files
(``../shared/data/bnci003``: s6, s7, s8) and on small files written here, and the
``FILE:PART`` selector through load_recording, load_epochs and the command line."""

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from neurospell.check import NeurospellError, shared_data_dir
from neurospell.config import PreprocessConfig
from neurospell.markers import parse_flash, parse_phrase, parse_trial
from neurospell.parts import split_part
from neurospell.preprocessing import load_recording
from neurospell.preprocessing.read_bnci import BNCI_CH_NAMES, GAP_S, is_bnci_mat
from neurospell.session.evaluation import load_epochs
from neurospell.types import DEFAULT_SYMBOLS, SpellerLayout

SUBJECTS = ("s6", "s7", "s8")


@pytest.fixture(scope="module")
def bnci_dir():
    base = shared_data_dir()
    if base is None or not (base / "bnci003").is_dir():
        pytest.skip("the shared BNCI 003-2015 files are absent: set NEUROSPELL_SHARED_DATA to the folder "
                    "holding bnci003/ (s6.mat, s7.mat, s8.mat; see ../shared/data/README.md)")
    return base / "bnci003"


def _source(path, part):
    """The file's own arrays, read independently of the reader (scipy)."""
    name = path.stem
    return np.asarray(loadmat(path)[name][0, 0][part], dtype=float)


def _flashes(raw):
    out = []
    for on, d in zip(raw.annotations.onset, raw.annotations.description, strict=True):
        info = parse_flash(d)
        if info is not None:
            out.append((on, info.code, info.target))
    out.sort()
    return out


def _trials(raw):
    return sorted((on, *parse_trial(d)) for on, d in zip(raw.annotations.onset, raw.annotations.description,
                                                         strict=True) if parse_trial(d) is not None)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_counts_onsets_codes_units(bnci_dir, subject):
    path = bnci_dir / f"{subject}.mat"
    assert is_bnci_mat(path)
    for part in ("train", "test"):
        src = _source(path, part)
        raw = load_recording(f"{path}:{part}")
        assert raw.ch_names == list(BNCI_CH_NAMES) and raw.info["sfreq"] == 256.0
        assert "assumed" in raw.info["description"]
        # units: the file's rows 1-8 taken as microvolts, to volts
        np.testing.assert_allclose(raw.get_data() * 1e6, src[1:9], rtol=1e-12, atol=1e-9)
        fl = _flashes(raw)
        assert len(fl) == 900 and sum(t for _, _, t in fl) == 150
        # onsets where row 9 turns non-zero; codes: BNCI rows 7-12 -> 1-6, columns 1-6 -> 7-12
        g = src[9]
        rising = np.flatnonzero((g != 0) & (np.r_[0, g[:-1]] == 0))
        np.testing.assert_array_equal(np.round(np.array([o for o, _, _ in fl]) * 256).astype(int), rising)
        expect = np.where(g[rising] >= 7, g[rising] - 6, g[rising] + 6)
        np.testing.assert_array_equal([c for _, c, _ in fl], expect)
        np.testing.assert_array_equal([t for _, _, t in fl], src[10][rising] > 0)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_characters_are_one_row_and_one_column(bnci_dir, subject):
    raw = load_recording(bnci_dir / f"{subject}.mat")
    layout = SpellerLayout.row_column()
    fl = _flashes(raw)
    trials = _trials(raw)
    assert [t[1] for t in trials] == list(range(10))
    starts = np.array([t[0] for t in trials])
    phrases = sorted((on, parse_phrase(d)) for on, d in zip(raw.annotations.onset, raw.annotations.description,
                                                            strict=True) if parse_phrase(d) is not None)
    assert [p.kind for _, p in phrases] == ["calibration", "test"]
    assert "".join(t[2] for t in trials) == phrases[0][1].text + phrases[1][1].text
    for k, (_, _, sym) in enumerate(trials):
        end = starts[k + 1] if k + 1 < len(starts) else np.inf
        mine = [(c, tg) for on, c, tg in fl if starts[k] <= on < end]
        assert len(mine) == 180  # 15 repetitions x 12 flashes
        assert sorted(np.unique([c for c, _ in mine], return_counts=True)[1]) == [15] * 12
        tcodes = {c for c, tg in mine if tg}
        assert len(tcodes) == 2, tcodes
        # the groups (code - 1) of the target flashes are exactly the row and the column of sym
        assert {c - 1 for c in tcodes} == set(np.flatnonzero(layout.membership()[:, DEFAULT_SYMBOLS.index(sym)])), sym
        assert sum(tg for _, tg in mine) == 30


def test_whole_file_has_a_gap_no_epoch_straddles(bnci_dir):
    path = bnci_dir / "s8.mat"
    raw = load_recording(path)
    train, test = _source(path, "train"), _source(path, "test")
    n_tr, n_gap = train.shape[1], int(GAP_S * 256)
    assert raw.n_times == n_tr + n_gap + test.shape[1]
    gap = [(on, dur) for on, dur, d in zip(raw.annotations.onset, raw.annotations.duration,
                                           raw.annotations.description, strict=True) if d == "BAD_gap"]
    assert len(gap) == 1 and gap[0] == (pytest.approx(n_tr / 256, abs=1e-5), pytest.approx(n_gap / 256))
    x = raw.get_data() * 1e6
    np.testing.assert_allclose(x[:, n_tr + n_gap:], test[1:9], atol=1e-9)
    # the gap joins the parts without a step: every step within the largest step of the data
    assert np.abs(np.diff(x[:, n_tr - 1:n_tr + n_gap + 1])).max() <= np.abs(np.diff(train[1:9])).max()
    cfg = PreprocessConfig()
    whole = load_epochs([path], cfg)
    parts = [load_epochs([f"{path}:{p}"], cfg) for p in ("train", "test")]
    assert len(whole) == 1800 and whole.targets.sum() == 300 and len(set(whole.trials.tolist())) == 10
    for b in parts:
        assert len(b) == 900 and b.targets.sum() == 150 and len(set(b.trials.tolist())) == 5
    # no epoch window reaches into the gap
    lo, hi = whole.onsets + cfg.tmin, whole.onsets + cfg.tmax
    g0, g1 = gap[0][0], gap[0][0] + gap[0][1]
    assert not np.any((hi > g0) & (lo < g1))
    # an epoch that would straddle the gap is dropped, not cut
    import mne

    shifted = raw.copy()
    shifted.set_annotations(shifted.annotations + mne.Annotations([g0 - 0.3], [0.0], ["flash/1/target"]))
    from neurospell.preprocessing import epochs_from_raw

    _, b = epochs_from_raw(shifted, cfg)
    assert len(b) == 1800


def test_part_selector_errors(bnci_dir, shared_data, tmp_path):
    path = bnci_dir / "s6.mat"
    with pytest.raises(NeurospellError, match=r"parts \['train', 'test'\], got 'valid'"):
        load_recording(f"{path}:valid")
    gtec = shared_data / "gtec_p300" / "S1.mat"
    with pytest.raises(NeurospellError, match="has no parts"):
        load_recording(f"{gtec}:train")
    with pytest.raises(FileNotFoundError):
        load_recording(f"{tmp_path / 'missing.mat'}:train")
    assert split_part(f"{path}:test") == (path, "test")
    assert split_part(path) == (path, None)
    assert split_part("C:/x/missing.mat") == (split_part("C:/x/missing.mat")[0], None)
    assert not is_bnci_mat(gtec)
    # pooling the whole file with one of its parts would count that part twice
    with pytest.raises(NeurospellError, match="overlapping parts"):
        load_epochs([path, f"{path}:train"])


def _write(path, train=None, test=None, name=None, extra=None):
    rng = np.random.default_rng(0)

    def part(n_chars=3):
        rows = []
        for ch in range(n_chars):
            r, c = divmod([0, 14, 35][ch], 6)  # A, O, space
            pause = np.zeros((11, 256))
            rows.append(pause)
            for _rep in range(2):
                for grp in rng.permutation(np.arange(1, 13)):
                    f = np.zeros((11, 20))
                    f[9, :16] = grp
                    f[10, :16] = (grp == c + 1) or (grp == r + 7)
                    rows.append(f)
        a = np.concatenate(rows + [np.zeros((11, 256))], axis=1)
        a[0] = np.arange(a.shape[1]) / 256
        a[1:9] = rng.normal(0, 10, (8, a.shape[1])) + 500
        return a

    name = name or path.stem
    st = {"train": part() if train is None else train, "test": part() if test is None else test}
    savemat(path, {name: {**st, **(extra or {})}})
    return st


def test_small_written_file_reads_with_no_options(tmp_path):
    f = tmp_path / "s99.mat"
    st = _write(f)
    assert is_bnci_mat(f)
    raw = load_recording(f)
    assert [t[2] for t in _trials(raw)] == ["A", "O", "_"] * 2  # a space is written "_"
    assert len(_flashes(raw)) == 2 * 3 * 2 * 12
    np.testing.assert_allclose(raw.get_data()[:, :st["train"].shape[1]] * 1e6, st["train"][1:9])


def test_bad_files_get_clear_errors(tmp_path):
    good = _write(tmp_path / "ok.mat")
    bad_group = good["train"].copy()
    bad_group[9, 300] = 13
    cases = {
        "rows": (dict(train=good["train"][:10]), "11 x n_samples"),
        "group": (dict(train=bad_group), "row 9 .* got also 13"),
        "time": (dict(train=np.vstack([good["train"][:0], good["train"][0:1] * 0, good["train"][1:]])),
                 "row 0 .* constant step"),
    }
    flags = good["test"].copy()
    on = np.flatnonzero((flags[9] != 0) & (np.r_[0, flags[9][:-1]] == 0))
    flags[10, on[0]:on[0] + 16] = 1 - flags[10, on[0]]  # one more (or one less) target row/column
    cases["flags"] = (dict(test=flags), "exactly one row and one column")
    nan = good["test"].copy()
    nan[3, 10] = np.nan
    cases["nan"] = (dict(test=nan), "NaN")
    for key, (kw, msg) in cases.items():
        f = tmp_path / f"bad_{key}.mat"
        _write(f, name="bad", **kw)
        with pytest.raises(NeurospellError, match=msg) as err:
            load_recording(f)
        assert str(f) in str(err.value) and "as bnci" in str(err.value), err.value


def test_train_on_train_evaluate_on_test_from_the_command_line(bnci_dir, tmp_path, capsys):
    from neurospell.cli import main

    path = bnci_dir / "s8.mat"
    model = tmp_path / "m.pkl"
    assert main(["train", f"{path}:train", "--decoder", "lda", "--out", str(model), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "900 epochs (150 targets, 5 characters" in out and "WARNING" not in out
    from neurospell.decoder import load_decoder

    files = load_decoder(model).provenance_["training"]["files"]
    assert files[0]["part"] == "train" and files[0]["sha256"]
    args = ["--max-repetitions", "3", "--n-selections", "20"]
    assert main(["evaluate", str(model), f"{path}:test", *args]) == 0
    out = capsys.readouterr().out
    assert "900 epochs, 150 targets" in out and "IN-SAMPLE" not in out
    # the training part, or the whole file, is flagged in-sample
    for rec in (f"{path}:train", str(path)):
        assert main(["evaluate", str(model), rec, *args]) == 0
        assert "IN-SAMPLE" in capsys.readouterr().out
    # replay decodes the 5 test characters, each one row and one column (trial marked before its flashes)
    assert main(["replay", f"{path}:test", "--decoder", str(model), "--lm", "uniform", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "trials:    5" in out and "phrase 1 (test) decoded:" in out and "intended: 'WATER'" in out
    assert main(["inspect", f"{path}:test"]) == 0
    out = capsys.readouterr().out
    assert "flashes:    900 (targets 150, non-targets 750" in out and "trials:     5" in out


def test_poor_performer_is_warned_about(bnci_dir, tmp_path, capsys):
    """s6 (reference AUC 0.58): train and evaluate say near chance, and what that means."""
    from neurospell.cli import main

    path, model = bnci_dir / "s6.mat", tmp_path / "s6.pkl"
    assert main(["train", f"{path}:train", "--decoder", "lda", "--out", str(model), "--no-progress"]) == 0
    out = capsys.readouterr().out
    auc = float(out.split("early stopping): ")[1].split()[0])
    assert auc < 0.7 and f"WARNING: held-out AUC {auc:.3f}" in out and "near chance" in out, out
    assert "maximum repetitions" in out and "language model's guess" in out
    assert main(["evaluate", str(model), f"{path}:test", "--max-repetitions", "2", "--n-selections", "20"]) == 0
    assert "WARNING: AUC" in capsys.readouterr().out
