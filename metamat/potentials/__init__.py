"""Machine-learned interatomic potentials: symmetry functions + per-element networks (Behler-Parrinello)."""

from metamat.potentials.calculator import PotentialCalculator
from metamat.potentials.evaluation import Predictions, predict_frames, test_potential, write_test_report
from metamat.potentials.io import load_potential, save_potential
from metamat.potentials.md import run_md
from metamat.potentials.network import Potential
from metamat.potentials.symmetry_functions import DescriptorSettings
from metamat.potentials.training import TrainSettings, train_potential

__all__ = ["DescriptorSettings", "Potential", "PotentialCalculator", "Predictions", "TrainSettings",
           "load_potential", "predict_frames", "run_md", "save_potential", "test_potential",
           "train_potential", "write_test_report"]
