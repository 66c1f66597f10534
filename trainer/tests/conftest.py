"""pytest setup shared by the trainer tests: `trainer/` on sys.path so `import amc_trainer` works."""
import os
import sys

TRAINER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TRAINER_DIR not in sys.path:
    sys.path.insert(0, TRAINER_DIR)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: heavy test (base-size model export); runs only with AMC_SLOW=1")
