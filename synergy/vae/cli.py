"""The ``synergy-vae`` command line: ``train``, ``demo``, ``plot`` and ``evaluate``.

Every training flag comes from a field of :class:`synergy.vae.training.TrainConfig`, so the
defaults live in one place.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

__all__ = ["build_parser", "config_from_args", "main"]


def _config_fields() -> tuple[Any, Any]:
    # The config lives beside torch; import it only when a subcommand needs it.
    from synergy.vae.training import TrainConfig

    return TrainConfig, dataclasses.fields(TrainConfig)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    _, fields = _config_fields()
    for f in fields:
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata.get('help', '')} (default: {f.default!r})"
        if isinstance(f.default, bool):
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=f.default,
                help=help_text,
            )
        else:
            parser.add_argument(
                flag,
                dest=f.name,
                type=type(f.default),
                default=f.default,
                choices=f.metadata.get("choices"),
                help=help_text,
            )


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong and where the help is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _points(text: str) -> int | str | None:
    """``--n-points``: a positive count, "all" (every image) or "auto"."""
    if text in ("auto", "all"):
        return None if text == "all" else text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number, 'all' or 'auto', got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _add_run_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", help="a run's output directory (or --out DIR)")
    parser.add_argument("--out", help="a run's output directory, as `train --out` names it")


def _run_directory(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    if args.run is None and args.out is None:
        parser.error("the run directory is required: give it as --out DIR or as DIR")
    if args.run is not None and args.out is not None and args.run != args.out:
        parser.error(f"two run directories: {args.run!r} and --out {args.out!r}")
    return str(args.run if args.run is not None else args.out)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its ``train``, ``demo``, ``plot`` and ``evaluate`` subcommands."""
    parser = _Parser(
        prog="synergy-vae",
        description="Train and inspect Non-Synergistic VAEs and baselines on dSprites.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model (torchrun-able for data parallelism)")
    _add_config_flags(train)
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new run in a non-empty --out: the old run's files (checkpoint.pt, "
        "log.jsonl, config.json, metrics.json, the PNGs) move to --out/previous-N/; nothing "
        "is deleted",
    )
    train.add_argument(
        "--no-plots",
        dest="plots",
        action="store_false",
        help="do not draw traversals.png, losses.png and activations.png at the end",
    )
    demo = sub.add_parser("demo", help="a short Non-Syn VAE run on small procedural data")
    demo.add_argument("--out", default="runs/demo", help="output directory (default: runs/demo)")
    demo.add_argument("--steps", type=int, default=None, help="training steps (default: demo's)")
    demo.add_argument(
        "--overwrite",
        action="store_true",
        help="start anew in a non-empty --out (the old run's files move to previous-N/)",
    )
    plot = sub.add_parser("plot", help="draw traversals, loss curves and activations of a run")
    evaluate = sub.add_parser("evaluate", help="MIG (Chen and dlib) and FactorVAE score of a run")
    for subparser in (plot, evaluate):
        _add_run_argument(subparser)
        subparser.set_defaults(subparser=subparser)
    evaluate.add_argument(
        "--n-points",
        type=_points,
        default="auto",
        help="images encoded for each MIG estimate: a number, 'all', or 'auto' (the default:"
        " each protocol's published choice, every image for Chen's and 10,000 for dlib's;"
        " 10000 gives a quick, slightly biased look)",
    )
    evaluate.add_argument(
        "--n-votes",
        type=int,
        default=None,
        help="FactorVAE training votes (default: the published 10,000, scored on 5,000 more;"
        " 800 gives a quick look)",
    )
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the metrics")
    return parser


def config_from_args(args: argparse.Namespace) -> Any:
    """A TrainConfig from parsed ``train`` arguments."""
    config_cls, fields = _config_fields()
    return config_cls(**{f.name: getattr(args, f.name) for f in fields})


# Where a missing module comes from: the extra that installs it.
_EXTRAS = {"torch": "vae", "tqdm": "vae", "matplotlib": "vae"}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``synergy-vae`` and ``python -m synergy.vae``; returns the exit code.

    A user error (a bad flag value, a non-empty output directory, a missing or damaged
    checkpoint, a resume whose config differs) prints one line to stderr and returns 2; a
    missing optional dependency says which extra to install and returns 1.
    """
    from synergy._validate import InvalidDistributionError, InvalidParameterError, InvalidTypeError

    try:
        with _one_line_warnings():
            return _main(argv)
    except ImportError as exc:
        top = (getattr(exc, "name", None) or "").partition(".")[0]
        if top in _EXTRAS:
            message = (
                f"this command needs {top}, which is not installed: "
                f'pip install "synergy[{_EXTRAS[top]}]"'
            )
        elif "pip install" in str(exc):  # the library's own message naming the extra
            message = str(exc)
        else:
            raise
        print(f"synergy-vae: error: {message}", file=sys.stderr)
        return 1
    except (InvalidParameterError, InvalidTypeError, InvalidDistributionError) as exc:
        print(f"synergy-vae: error: {exc}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Warnings and the library's log messages as ``synergy-vae: warning: ...`` lines."""

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        print(f"synergy-vae: warning: {message}", file=sys.stderr)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("synergy-vae: %(levelname)s: %(message)s"))
    package_logger = logging.getLogger("synergy")
    package_logger.addHandler(handler)
    with warnings.catch_warnings():
        warnings.showwarning = show
        try:
            yield
        finally:
            package_logger.removeHandler(handler)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(args)
    if args.command == "demo":
        from synergy.vae.demo import run_demo

        kwargs = {} if args.steps is None else {"steps": args.steps}
        paths = run_demo(args.out, overwrite=args.overwrite, **kwargs)
        for path in paths:
            print(path)
        return 0
    run = _run_directory(args.subparser, args)
    if args.command == "evaluate":
        import json

        from synergy.vae.metrics import evaluate_run

        scores = evaluate_run(run, n_points=args.n_points, n_votes=args.n_votes, seed=args.seed)
        print(json.dumps(scores, indent=2))
        return 0
    from synergy.vae.plots import plot_run

    for path in plot_run(run):
        print(path)
    return 0


def _train(args: argparse.Namespace) -> int:
    from synergy.vae.training import read_log, train

    config = config_from_args(args)
    started = time.perf_counter()
    try:
        trainer = train(config, resume=args.resume, overwrite=args.overwrite)
    except KeyboardInterrupt:
        print("interrupted: checkpoint saved; continue with --resume", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - started
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun, rank 0 writes the files and reports
    if args.plots:
        from synergy.vae.plots import plot_run

        try:
            plot_run(config.out)
        except ImportError as exc:  # no matplotlib: the run itself is done and saved
            print(f"pictures skipped: {exc}", file=sys.stderr)
    log_path = os.path.join(config.out, "log.jsonl")
    last = read_log(log_path)[-1] if os.path.isfile(log_path) else {}
    losses = ", ".join(
        f"{key} {value:.4g}"
        for key, value in last.items()
        if key != "step" and isinstance(value, float)
    )
    print(f"{config.model}: step {trainer.step} of {config.steps}, {seconds:.1f} s of training")
    if losses:
        print(f"final losses (nats, step {last['step']}): {losses}")
    files = sorted(n for n in os.listdir(config.out) if not n.startswith("."))
    print(f"files in {config.out}: {', '.join(files)}")
    return 0
