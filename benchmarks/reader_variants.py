"""Number reader variants on a borrowed GPU: which of width, a recurrent layer over the frames,
longer training and more training numbers would read touching digits better, measured on
validation numbers (composed of the 5,000 training digits the reader holds out), never on test.

Each variant is `reader.train_reader` with a changed `ReaderConfig`, so it is the recipe
notebook 07 runs; only the device differs (Keras on JAX, since TensorFlow cannot travel there).
The reader alone reads every validation line whole (no digit model, no "?"): the share read
exactly and the share with the right count of digits, per gap between digits. Results are
written after each variant, so a run stopped early keeps what it measured.

    python benchmarks/gpu_check.py --pack                     # here, once: MNIST into .gpu/
    KERAS_BACKEND=jax python3 benchmarks/reader_variants.py   # there, on the GPU
    python benchmarks/reader_variants.py --smoke              # anywhere: 2 tiny variants, CPU allowed

The device has JAX but no Keras: `pip download` the wheels of keras, namex and optree (the versions
of requirements.lock, for its Python) into .whl/ here, carry .whl and .gpu, and there install them
with `pip install --no-index --no-deps --target /tmp/site .whl/*.whl` and PYTHONPATH=/tmp/site:$PWD.

Writes $OUT/reader_variants.json when OUT is set, else reports/reader_variants.json (a smoke run:
runs/reader_variants-smoke.json, so it never replaces the measured file).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digitlib import config, data, runtime  # noqa: E402
from digitlib.pictures import number_tables, reader  # noqa: E402

GPU_DIR = ROOT / ".gpu"
VALIDATION_NUMBERS = 500  # per gap
# the reader as notebook 07 trained it when these were measured, every setting spelled out, so a
# rerun measures the same variants whatever ReaderConfig's defaults are now
BASE = reader.ReaderConfig(
    seed=42,
    numbers=60000,
    epochs=6,
    batch_size=128,
    learning_rate=0.002,
    width=16,
    recurrent_units=0,
    validation_size=5000,
    outlier_share=0.0,
)
VARIANTS = {  # name: changes to BASE
    "width 16, 6 epochs (the reader before 18 epochs were chosen)": {"epochs": 6},
    "GRU 64": {"recurrent_units": 64, "epochs": 6},
    "18 epochs": {"epochs": 18},
    "width 32": {"width": 32, "epochs": 6},
    "GRU 64, 18 epochs": {"recurrent_units": 64, "epochs": 18},
    "GRU 64, width 32, 18 epochs, 120,000 numbers": {
        "recurrent_units": 64,
        "width": 32,
        "epochs": 18,
        "numbers": 120000,
    },
}
SMOKE_VARIANTS = {
    "tiny": {"numbers": 256, "epochs": 1},
    "tiny GRU": {"numbers": 256, "epochs": 1, "recurrent_units": 8},
}


def validation_lines(images: np.ndarray, labels: np.ndarray, numbers: int, seed: int):
    """Numbers of 2 to 5 digits drawn and composed as `number_tables.number_pieces` composes them,
    brought to the reader's input (`number_tables.number_lines`): the lines and the texts, per gap."""
    composed = number_tables.number_lines(images, labels, numbers, number_tables.NUMBER_GAPS, seed)
    return {gap: lines for gap, (_, lines) in composed.items()}, {gap: texts for gap, (texts, _) in composed.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="two tiny variants on 50 numbers a gap; CPU allowed")
    args = parser.parse_args()
    keras = runtime.keras()
    device = "cpu"
    if keras.backend.backend() == "jax":
        import jax

        device = f"{jax.devices()[0].device_kind} ({jax.default_backend()})"
    print(f"device: {device}; keras {keras.__version__} on {keras.backend.backend()}", flush=True)
    mnist = data.load_local(GPU_DIR) if GPU_DIR.exists() else data.load_mnist()
    if mnist is None:
        print(f"no MNIST in {GPU_DIR}: run `python benchmarks/gpu_check.py --pack` first")
        return 1
    base = BASE
    (x_all, y_all), _ = mnist
    _, (x_val, y_val) = data.train_val_split(x_all, y_all, base.validation_size, seed=base.seed)
    lines, texts = validation_lines(x_val, y_val, 50 if args.smoke else VALIDATION_NUMBERS, base.seed)
    if os.environ.get("OUT"):
        target = Path(os.environ["OUT"]) / "reader_variants.json"
    elif args.smoke:
        target = config.RUNS_DIR / "reader_variants-smoke.json"
    else:
        target = config.REPORTS_DIR / "reader_variants.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "device": device,
        "backend": keras.backend.backend(),
        "smoke": args.smoke,
        "validation_numbers_per_gap": len(texts[number_tables.NUMBER_GAPS[0]]),
        "number_rise": number_tables.NUMBER_RISE,  # the digits' wander in the validation numbers (none: 0)
        "variants": [],
    }
    for name, changes in (SMOKE_VARIANTS if args.smoke else VARIANTS).items():
        settings = dataclasses.replace(base, **changes)
        print(f"\n{name}: {settings}", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            record = reader.train_reader(settings, config.run_paths(folder), mnist)
            model = keras.models.load_model(Path(folder) / "models" / reader.FILE_NAME, compile=False)
            started = time.perf_counter()
            by_gap = {}
            for gap, gap_lines in lines.items():
                read = reader.read_lines(model, gap_lines)
                by_gap[gap] = {
                    "read_exactly": float(np.mean([r == t for r, t in zip(read, texts[gap])])),
                    "right_count": float(np.mean([len(r) == len(t) for r, t in zip(read, texts[gap])])),
                }
        row = {
            "variant": name,
            "config": dataclasses.asdict(settings),
            "parameters": int(model.count_params()),
            "train_seconds": record["train_seconds"],
            "compose_seconds": record["compose_seconds"],
            "final_loss": record["loss"][-1],
            "read_seconds": round(time.perf_counter() - started, 1),
            "by_gap": by_gap,
            "touching_read_exactly": float(np.mean([by_gap[g]["read_exactly"] for g in by_gap if g <= 0])),
        }
        result["variants"].append(row)
        print(
            f"{name}: {row['parameters']:,} parameters, {row['train_seconds']:.0f} s, loss {row['final_loss']:.3f}; "
            + ", ".join(f"gap {g}: {100 * v['read_exactly']:.1f} %" for g, v in by_gap.items()),
            flush=True,
        )
        target.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
