import random

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seeded():
    random.seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
