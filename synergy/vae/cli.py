"""The ``synergy-vae`` command line: ``train``, ``demo``, ``plot`` and ``evaluate``.

Every training flag comes from a field of :class:`synergy.vae.training.TrainConfig`, so the
defaults live in one place.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from typing import Any

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its ``train``, ``demo`` and ``plot`` subcommands."""
    parser = argparse.ArgumentParser(
        prog="synergy-vae",
        description="Train and inspect Non-Synergistic VAEs and baselines on dSprites.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model (torchrun-able for data parallelism)")
    _add_config_flags(train)
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument(
        "--overwrite", action="store_true", help="write into a non-empty --out (deletes nothing)"
    )
    demo = sub.add_parser("demo", help="a short Non-Syn VAE run on small procedural data")
    demo.add_argument("--out", default="runs/demo", help="output directory (default: runs/demo)")
    demo.add_argument("--steps", type=int, default=None, help="training steps (default: demo's)")
    demo.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    plot = sub.add_parser("plot", help="draw traversals, loss curves and activations of a run")
    plot.add_argument("run", help="a run's output directory")
    evaluate = sub.add_parser("evaluate", help="MIG (Chen and dlib) and FactorVAE score of a run")
    evaluate.add_argument("run", help="a run's output directory")
    evaluate.add_argument("--n-points", type=int, default=10_000, help="images encoded for MIG")
    evaluate.add_argument("--n-votes", type=int, default=800, help="FactorVAE training votes")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the metrics")
    return parser


def config_from_args(args: argparse.Namespace) -> Any:
    """A TrainConfig from parsed ``train`` arguments."""
    config_cls, fields = _config_fields()
    return config_cls(**{f.name: getattr(args, f.name) for f in fields})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``synergy-vae`` and ``python -m synergy.vae``; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "train":
        from synergy.vae.training import train

        try:
            train(config_from_args(args), resume=args.resume, overwrite=args.overwrite)
        except KeyboardInterrupt:
            print("interrupted: checkpoint saved; continue with --resume")
            return 130
        return 0
    if args.command == "demo":
        from synergy.vae.demo import run_demo

        kwargs = {} if args.steps is None else {"steps": args.steps}
        paths = run_demo(args.out, overwrite=args.overwrite, **kwargs)
        for path in paths:
            print(path)
        return 0
    if args.command == "evaluate":
        import json

        from synergy.vae.metrics import evaluate_run

        scores = evaluate_run(
            args.run, n_points=args.n_points, n_votes=args.n_votes, seed=args.seed
        )
        print(json.dumps(scores, indent=2))
        return 0
    from synergy.vae.plots import plot_run

    for path in plot_run(args.run):
        print(path)
    return 0
