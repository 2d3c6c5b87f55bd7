"""``neurospell demo``: the main job on the embedded default (no hardware)."""

from __future__ import annotations

from . import _args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="calibrate on the shipped sample session and spell its test phrases",
        description=(
            "Loads neurospell's own synthetic P300 speller session (sample_data/), calibrates a "
            "decoder on its calibration phrase, then decodes the test phrases into text flash by "
            "flash with dynamic stopping, with and without the language model."
        ),
    )
    p.add_argument("--recording", type=_args.recording_file, help="a neurospell speller session with phrase annotations (default: the sample)")
    p.add_argument("--decoder", default=None, help="decoder to calibrate (default: [decoder] name of the config)")
    p.add_argument("--lm", default=None, type=_args.lm_name, help="language model (default: [lm] name of the config)")
    p.add_argument("--lm-path", metavar="FOLDER", default=None, type=_args.input_folder("model folder"),
                   help="with --lm hf: folder of a Hugging Face causal LM (default: [lm] path)")
    p.set_defaults(func=_demo, check=_args.check_demo)


def _demo(args, config) -> int:
    from neurospell.session.demo import run_demo

    print("neurospell demo: EEG in, text out (no hardware: the shipped sample session)")

    def on_decision(out):
        d = out.decision
        print(f"  selected {d.symbol!r:5} p={d.posterior:.2f} after {d.n_repetitions:2d} repetitions"
              f"  -> {out.text!r}", flush=True)

    reports, info = run_demo(args.recording, decoder=args.decoder, lm=args.lm, config=config,
                             on_decision=on_decision, on_step=lambda s: print(f"- {s}", flush=True))
    print()
    header = (f"{'language model':<16}{'decoded':<24}{'intended':<24}{'accuracy':>9}"
              f"{'reps/char':>10}{'chars/min':>10}{'ITR bits/min':>13}")
    print(header)
    print("-" * len(header))
    n_groups = config.speller.layout().n_groups
    for key in ("without_lm", "with_lm"):
        rows = [getattr(r, key) for r in reports]
        for res in rows:
            print(f"{res.lm:<16}{res.decoded!r:<24}{str(res.intended)!r:<24}{res.accuracy:>9.2f}"
                  f"{res.flashes_per_char / n_groups:>10.1f}{res.chars_per_minute:>10.2f}{res.itr:>13.1f}")
        n_sel = sum(r.n_selections for r in rows)
        hits = sum(r.accuracy * len(r.intended or "") for r in rows)
        n_int = sum(len(r.intended or "") for r in rows)
        fl = sum(sum(r.n_flashes) for r in rows)
        print(f"{rows[0].lm:<16}{'(all test phrases)':<48}{hits / max(n_int, 1):>9.2f}"
              f"{fl / max(n_sel, 1) / n_groups:>10.1f}")
    for r in reports:
        if r.with_lm.corrected != r.with_lm.decoded:
            print(f"re-ranked candidate for {r.with_lm.intended!r}: {r.with_lm.corrected!r}")
    print(f"total time {info['total_seconds']:.1f} s")
    return 0
