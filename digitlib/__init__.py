"""digitlib: the helpers behind the MNIST notebooks.

Modules, from the bottom up: `config` (paths, constants), `runtime` (TensorFlow imported quietly,
seeds), `parameters` (YAML parameters and their checks), `records` (run records, versions),
`data` (MNIST files, input pipelines), `augment`, `models`, `evaluation` (metrics), `training`
(`TrainConfig` and `train`, the one training recipe), `sweep` (grids of runs on Dask), `plots`,
`preprocess` (a user's picture to a 28x28 input), `predict`, `interface` (widgets), `synthetic`
(pictures for tests and demos), `notebook` (the setup cell) and `pipeline` (papermill runs).
"""

__version__ = "0.1.0"
