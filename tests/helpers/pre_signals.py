"""Known signals and small recordings for the preprocessing, reader and replay tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
SAMPLE_FIF = SAMPLE_DIR / "neurospell_sample_raw.fif"
SAMPLE_XDF = SAMPLE_DIR / "neurospell_sample.xdf"


def make_raw(
    duration=8.0,
    sfreq=250.0,
    n_eeg=4,
    *,
    ramp=True,
    seed=0,
    flash_onsets=None,
    codes=None,
    targets=None,
    trials=True,
    offset_uv=20.0,
):
    """A Raw with EEG-like noise (volts), an optional sample-index ramp channel (misc) and
    flash/trial annotations.

    Flash onsets default to every 0.175 s from 0.5 s to ``duration - 1.2`` s, off the
    sample grid by a third of a sample (so rounding is exercised, never tied).
    """
    import mne

    rng = np.random.default_rng(seed)
    n = int(round(duration * sfreq))
    eeg = rng.standard_normal((n_eeg, n)).cumsum(axis=1) * 0.3e-6
    eeg += rng.standard_normal((n_eeg, n)) * 5e-6 + offset_uv * 1e-6
    names = [f"EEG{i + 1}" for i in range(n_eeg)]
    types = ["eeg"] * n_eeg
    data = [eeg]
    if ramp:
        names.append("RAMP")
        types.append("misc")
        data.append(np.arange(n, dtype=float)[None, :])
    raw = mne.io.RawArray(np.concatenate(data), mne.create_info(names, sfreq, types), verbose="error")
    if flash_onsets is None:
        flash_onsets = np.arange(0.5, duration - 1.2, 0.175) + 1.0 / (3 * sfreq)
    flash_onsets = np.asarray(flash_onsets, dtype=float)
    k = len(flash_onsets)
    if codes is None:
        codes = (np.arange(k) % 12) + 1
    if targets is None:
        targets = (np.asarray(codes) % 6) == 1
    descs = [f"flash/{int(c)}/{'target' if t else 'nontarget'}" for c, t in zip(codes, targets, strict=True)]
    onsets = list(flash_onsets)
    if trials:
        onsets = [max(flash_onsets[0] - 0.3, 0.0)] + onsets
        descs = ["trial/0/A"] + descs
    raw.set_annotations(mne.Annotations(onsets, 0.0, descs))
    return raw


def write_brainvision(vhdr: Path, raw, *, markers=None) -> Path:
    """A minimal BrainVision triplet (float32, multiplexed, µV) written by hand.

    ``markers``: list of (sample_index, type, description), e.g. ``(120, "Stimulus", "S103")``.
    """
    vhdr = Path(vhdr)
    stem = vhdr.stem
    eeg_f, vmrk_f = vhdr.with_suffix(".eeg"), vhdr.with_suffix(".vmrk")
    data = (raw.get_data() * 1e6).astype("<f4")
    eeg_f.write_bytes(data.T.tobytes())
    chans = "\n".join(f"Ch{i + 1}={c},,1,µV" for i, c in enumerate(raw.ch_names))
    vhdr.write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem}.eeg\nMarkerFile={stem}.vmrk\nDataFormat=BINARY\nDataOrientation=MULTIPLEXED\n"
        f"NumberOfChannels={len(raw.ch_names)}\nDataPoints={raw.n_times}\nSamplingInterval={1e6 / raw.info['sfreq']:g}\n\n"
        f"[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n\n[Channel Infos]\n{chans}\n",
        encoding="utf-8",
    )
    lines = ["Mk1=New Segment,,1,1,0"]
    for i, (s, typ, desc) in enumerate(markers or [], start=2):
        lines.append(f"Mk{i}={typ},{desc},{int(s) + 1},1,0")
    vmrk_f.write_text(
        "Brain Vision Data Exchange Marker File Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem}.eeg\n\n[Marker Infos]\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    return vhdr


def write_bdf(path: Path, raw, *, record_seconds=1) -> Path:
    """A minimal BDF (24-bit) file written by hand: EEG channels only, whole records."""
    sf = int(raw.info["sfreq"])
    x = raw.get_data() * 1e6  # µV
    n_ch = x.shape[0]
    spr = sf * record_seconds
    n_rec = x.shape[1] // spr
    pmin, pmax, dmin, dmax = -100000.0, 100000.0, -(2**23), 2**23 - 1

    def field(v, w):
        return str(v).ljust(w)[:w].encode("ascii")

    head = b"\xffBIOSEMI" + field("X X X X", 80) + field("Startdate X X X X", 80)
    head += field("01.01.01", 8) + field("00.00.00", 8) + field(256 * (n_ch + 1), 8)
    head += field("24BIT", 44) + field(n_rec, 8) + field(record_seconds, 8) + field(n_ch, 4)
    for f, w in ((lambda c: c, 16), (lambda c: "", 80), (lambda c: "uV", 8), (lambda c: pmin, 8),
                 (lambda c: pmax, 8), (lambda c: dmin, 8), (lambda c: dmax, 8), (lambda c: "", 80),
                 (lambda c: spr, 8), (lambda c: "", 32)):
        head += b"".join(field(f(c), w) for c in raw.ch_names)
    scale = (dmax - dmin) / (pmax - pmin)
    dig = np.round((x[:, : n_rec * spr] - pmin) * scale + dmin).astype(np.int32)
    body = bytearray()
    for r in range(n_rec):
        for c in range(n_ch):
            v = dig[c, r * spr:(r + 1) * spr].astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
            body += v.tobytes()
    Path(path).write_bytes(head + bytes(body))
    return Path(path)
