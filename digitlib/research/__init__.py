"""The machinery of runs: notebooks run by papermill, sweeps on Dask, the README's results table."""
