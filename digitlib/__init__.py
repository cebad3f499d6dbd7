"""digitlib: the helpers behind the MNIST notebooks.

Modules: `config` (paths, defaults, notebook setup), `data` (MNIST files and input pipelines),
`models`, `training`, `evaluation`, `plots`, `preprocess` (a user's picture to a 28x28 input),
`predict`, `interface` (widgets), `synthetic` (pictures for tests and demos) and `pipeline`
(papermill runs).
"""
__version__ = "0.1.0"
