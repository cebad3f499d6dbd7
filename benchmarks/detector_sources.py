"""How the digit detector (models/digit_detector.keras) and the "not sure" rule flag pictures of
each source: the share with P(not a digit) above 0.5 and above 0.9, beside the share the rule
flags. Sources nothing trains on: the drawn non-digits kept for measuring, drawn digits, MNIST test
digits as files and as canvas pictures, Fashion-MNIST's test part, photo crops, typed digits,
`load_digits`; and validation outliers and digits. Prints a table; writes nothing.

    .venv/bin/python benchmarks/detector_sources.py
"""

from __future__ import annotations

import numpy as np

from digitlib import config, data, runtime
from digitlib.pictures import detector, outliers, synthetic
from digitlib.pictures.predict import Predictor


def sources() -> dict[str, list[np.ndarray]]:
    (x_all, y_all), (x_test, _) = data.load_mnist()
    _, (x_val, _) = data.train_val_split(x_all, y_all)
    photos, _ = synthetic.load_fashion_mnist()
    return {
        "drawn non-digits (the measuring set)": outliers.drawn_non_digits()[0],
        "drawn digits (hand strokes)": outliers.drawn_digits()[0],
        "MNIST test digits as files": list(x_test[:2000]),
        "MNIST test digits as canvas pictures": [outliers.as_pen_strokes(x) for x in x_test[2000:3000]],
        "Fashion-MNIST, test part": list(photos[60000:62000]),
        "photo crops": synthetic.photo_crops(300, seed=0),
        "typed digits": synthetic.typed_digits(500)[0],
        "load_digits": synthetic.other_handwriting()[0][:1000],
        "validation outliers (seed 99)": outliers.training_outliers(2000, seed=99)[0],
        "validation digits": list(x_val[:3000]),
    }


def main() -> None:
    model = runtime.keras().models.load_model(config.MODELS_DIR / detector.FILE_NAME, compile=False)
    predictor = Predictor()
    print("| source | n | detector > 0.5 | detector > 0.9 | the rule flags |\n| --- | --- | --- | --- | --- |")
    for name, pictures in sources().items():
        probability = detector.not_digit_probability(model, detector.model_inputs(pictures))
        flagged = np.mean([p.status != "ok" for p in predictor.predict_batch(pictures)])
        print(
            f"| {name} | {len(pictures):,} | {np.mean(probability > 0.5):.1%} | {np.mean(probability > 0.9):.1%} "
            f"| {flagged:.1%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
