"""Shared fixtures: the real MNIST arrays, loaded once per test session."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def mnist():
    from digitlib.data import load_mnist

    return load_mnist()
