"""``neurospell spell`` and ``neurospell gui``: how a session starts and ends -- ``--model``,
``--no-calibration``, ``--adapt``, ``--profile`` (the participant profile,
:mod:`neurospell.session.profile`); the rules are :mod:`neurospell.session.startplan`'s."""

from __future__ import annotations

import argparse

from . import _args


def add_start_arguments(p, *, window: bool = False) -> None:
    """``--model``, ``--no-calibration``, ``--adapt`` and ``--profile`` (``window``: the
    ``neurospell gui`` wording: the window offers the choice before a session starts)."""
    p.add_argument("--model", metavar="MODEL", default=None, type=_args.model_file,
                   help="a trained decoder (`neurospell train --out MODEL`), or `generic`: the cross-subject model "
                        "shipped with the package (aligned on the session's own epochs as they come); no calibration"
                        + ("; the window offers to start spelling with it (default: the --profile's last model, "
                           "else generic)" if window else ""))
    p.add_argument("--no-calibration", action="store_true",
                   help="start spelling at once with --model (or the --profile's last model); no calibration. "
                        "Turns online adaptation on unless --no-adapt"
                        + ("; the window's start choice has 'Start spelling now' selected" if window else ""))
    p.add_argument("--adapt", action=argparse.BooleanOptionalAction, default=None,
                   help="online adaptation: label the selections kept (not undone by a backspace) and refit the "
                        "decoder between selections in the training process (default: [speller] adapt; on with "
                        "--no-calibration)")
    p.add_argument("--profile", metavar="DIR", default=None,
                   help="a participant's profile folder: start from its last model (without --model) and "
                        "write the session's final model back there")


def check_start(args, *, generic: bool = False) -> None:
    """--no-calibration needs a model (--model, or a --profile holding one; ``generic``: else the
    shipped generic model); --profile's folder."""
    from neurospell.session.profile import Profile, ProfileError

    if args.profile is not None:
        try:
            if args.no_calibration and args.model is None:  # the session starts from the profile's model
                Profile.open(args.profile, must_have_model=True)
            else:
                Profile.open_or_new(args.profile)
        except ProfileError as err:
            raise _args.UsageError("--profile", str(err).removeprefix("profile: ")) from None
    if args.no_calibration:
        for flag in ("calibrate", "calibration_text"):
            if getattr(args, flag, None) is not None:
                raise _args.UsageError("--no-calibration", f"and --{flag.replace('_', '-')} TEXT contradict each "
                                                           "other; drop one.")
        if args.model is None and args.profile is None and not (generic and _generic_installed()):
            raise _args.UsageError("--no-calibration", "needs a model to spell with: --model MODEL (e.g. one trained "
                                                       "on other participants) or --profile DIR holding one.")


def _generic_installed() -> bool:
    from neurospell.session.startplan import offered_model

    return offered_model() is not None


def open_profile(args):
    """The --profile (``None`` without it) and what the session starts from (a path or ``None``)."""
    from neurospell.session.profile import Profile

    started_from = None if args.model is None else str(args.model)
    if args.profile is None:
        return None, started_from
    prof = Profile.open_or_new(args.profile)
    if args.calibrate is not None:  # a calibration: the session starts from nothing
        return prof, None
    return prof, started_from


def print_adaptation(session) -> None:
    """One line on the online adaptation: refits made, used, and the last one's AUCs."""
    adapt = session._adapt
    if adapt is None:
        return
    used = sum(bool(r.get("applied")) for r in adapt.refits)
    last = next((r for r in reversed(adapt.refits) if "cv_auc" in r), None)
    print(f"adaptation      {len(adapt.selections)} selections self-labelled ({adapt.n_labelled_epochs} epochs), "
          f"{len(adapt.refits)} refit(s), {used} used"
          + ("" if last is None else f"; last: cross-validated AUC {last['cv_auc']:.3f} vs {last['live_auc']:.3f} "
                                     "live on the same epochs"))


def end_profile(args, session, folder) -> None:
    """Write the session's final model to its --profile (and say so)."""
    from neurospell.session.startplan import save_to_profile

    profile = getattr(args, "profile_obj", None)
    if profile is None:
        return
    path = save_to_profile(profile, session, None if folder is None else folder.root,
                           started_from=args.started_from, start_decoder=args.start_decoder)
    if path is None:
        return
    print(f"profile         {path} (the next session with --profile {args.profile} starts from it)")
