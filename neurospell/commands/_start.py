"""``neurospell spell``: how a session starts and ends -- ``--no-calibration``, ``--adapt``,
``--profile`` (the participant profile, :mod:`neurospell.session.profile`)."""

from __future__ import annotations

from . import _args


def check_start(args) -> None:
    """--no-calibration needs a model (--model, or a --profile holding one); --profile's folder."""
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
        if args.calibrate is not None:
            raise _args.UsageError("--no-calibration", "and --calibrate TEXT contradict each other; drop one.")
        if args.model is None and args.profile is None:
            raise _args.UsageError("--no-calibration", "needs a model to spell with: --model MODEL (e.g. one trained "
                                                       "on other participants) or --profile DIR holding one.")


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
    profile = getattr(args, "profile_obj", None)
    model = session.model
    if profile is None or model is None:
        return
    # the epochs of this session it was fitted on (calibration or self-labelled); 0: unchanged
    n = 0 if model is args.start_decoder else int((model.provenance_.get("live_session") or {}).get("n_epochs", 0))
    path = profile.save_model(model, session=None if folder is None else folder.root, n_labelled_epochs=n,
                              started_from=args.started_from)
    print(f"profile         {path} (the next session with --profile {args.profile} starts from it)")
