"""digitlib: the helpers behind the MNIST notebooks.

The core, which the story notebooks read (`config`, `runtime`, `parameters`, `records`,
`notebook`, `data`, `augment`, `models`, `training`, `evaluation`, `plots`); `pictures`, people's
pictures read by the model (preprocessing, the "not sure" rule, the number reader, the predictor,
the widget); `research`, the machinery of runs (papermill, sweeps on Dask, the README's table).
Imports run one way: research -> pictures -> core.
"""

__version__ = "0.1.0"
