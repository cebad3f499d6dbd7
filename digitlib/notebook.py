"""The setup cell every notebook runs first (seeds, quiet TensorFlow, plot style), and `say`, the
prose a notebook computes from its own numbers."""

from __future__ import annotations

import numpy as np

from digitlib import config, runtime


def setup_notebook(seed: int = config.SEED, tensorflow: bool = True) -> dict[str, str]:
    """Seed everything, silence TensorFlow's start-up, set the plot style.

    Returns the library versions, which notebooks print."""
    import matplotlib
    import matplotlib.pyplot as plt
    import seaborn as sns

    versions = {"numpy": np.__version__, "matplotlib": matplotlib.__version__}
    if tensorflow:
        tf = runtime.import_tensorflow()
        versions.update(tensorflow=tf.__version__, keras=runtime.keras().__version__)
    runtime.set_seeds(seed)
    sns.set_theme(context="notebook", style="whitegrid")
    plt.rcParams.update({"figure.dpi": 90, "savefig.dpi": 110, "savefig.bbox": "tight", "image.cmap": "gray"})
    np.set_printoptions(precision=4, suppress=True)
    return versions


def say(text: str) -> None:
    """Show `text` as Markdown in the notebook: prose built from the values it quotes, so that a
    re-run rewrites its numbers with the cells above it."""
    from IPython.display import Markdown, display

    display(Markdown(text))
