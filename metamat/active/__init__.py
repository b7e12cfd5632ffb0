"""Which material to make next: acquisition functions, batch selection, constraints, Campaign, design."""

from metamat.active.acquisition import ACQUISITIONS, Goal, acquisition_values, parse_goal, probability_of_goal

__all__ = ["ACQUISITIONS", "Goal", "acquisition_values", "parse_goal", "probability_of_goal"]
