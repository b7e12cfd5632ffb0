"""Tasks, episodes, leakage-aware splits, chemical families and leakage checks."""

from metamat.tasks.families import FAMILIES, chemical_families, families_of
from metamat.tasks.leakage import LeakageReport, Overlap, check_leakage
from metamat.tasks.splits import (
    ChemicalSystemSplit,
    ClusterSplit,
    FamilySplit,
    GroupSplit,
    LeaveOneElementOut,
    LeaveOneGroupOut,
    RandomSplit,
    as_generator,
    chemical_system_codes,
    first_split,
    make_splitter,
    sample_episode,
)
from metamat.tasks.task import Episode, TargetStandardizer, TargetTransform, Task

__all__ = [
    "FAMILIES", "ChemicalSystemSplit", "ClusterSplit", "Episode", "FamilySplit", "GroupSplit",
    "LeakageReport", "LeaveOneElementOut", "LeaveOneGroupOut", "Overlap", "RandomSplit",
    "TargetStandardizer", "TargetTransform", "Task", "as_generator", "check_leakage",
    "chemical_families", "chemical_system_codes", "families_of", "first_split", "make_splitter",
    "sample_episode",
]
