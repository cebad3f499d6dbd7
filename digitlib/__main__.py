"""Command line: `python -m digitlib data | run | sweep | predict | reader | detector | results | app`."""

from __future__ import annotations

import argparse
import sys
import time


def _data(args: argparse.Namespace) -> int:
    from digitlib import config, data
    from digitlib.pictures import synthetic

    started = time.perf_counter()
    data.ensure_dataset(args.data_dir)
    (x_train, y_train), (x_test, y_test) = data.load_mnist(args.data_dir, fetch=False)
    elapsed = time.perf_counter() - started
    assert tuple(data.label_counts(y_train)) == data.TRAIN_LABEL_COUNTS
    assert tuple(data.label_counts(y_test)) == data.TEST_LABEL_COUNTS
    print(
        f"MNIST verified in {config.display_path(args.data_dir)}/: {len(x_train)} training and {len(x_test)} "
        f"test images, label counts as published ({elapsed:.2f} s)"
    )
    try:
        photos, _ = synthetic.load_fashion_mnist(args.data_dir)
    except data.DatasetError as error:  # only notebook 04's pictures from elsewhere need it
        print(f"warning: no Fashion-MNIST ({error}); notebook 04 skips its pictures from elsewhere", file=sys.stderr)
    else:
        print(f"Fashion-MNIST verified in {config.display_path(args.data_dir)}/: {len(photos)} pictures of clothes")
    return 0


def main(argv: list[str] | None = None) -> int:
    from digitlib import config

    parser = argparse.ArgumentParser(prog="python -m digitlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    data_cmd = commands.add_parser(
        "data", help="fetch MNIST (and Fashion-MNIST, for notebook 04) into dataset/ if missing, and verify them"
    )
    data_cmd.add_argument("--data-dir", default=str(config.DATASET_DIR))
    data_cmd.set_defaults(handler=_data)
    # Imported here, not guarded: a subcommand whose module is broken fails with its import error
    # instead of silently disappearing from the list.
    from digitlib.pictures import app, detector, predict, reader
    from digitlib.research import pipeline, results, sweep

    pipeline.add_command(commands)
    sweep.add_command(commands)
    predict.add_command(commands)
    reader.add_command(commands)
    detector.add_command(commands)
    results.add_command(commands)
    app.add_command(commands)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one clear line instead of a traceback for expected failures
        from digitlib.data import DatasetError
        from digitlib.research.pipeline import NotebookFailed

        if isinstance(error, (DatasetError, NotebookFailed, ValueError, FileNotFoundError)):
            print(f"error: {error}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
