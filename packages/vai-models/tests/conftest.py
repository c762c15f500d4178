import pytest
import torch


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: full-size checks (> ~5 s); deselect with -m 'not slow'")


@pytest.fixture(autouse=True)
def _one_thread_and_seed():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
