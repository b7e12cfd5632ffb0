"""Episodic meta-training: task sampling, meta-validation, early stopping, checkpoints, resume."""

from metamat.train.episodic import EpisodicTrainer, TaskSampler, TrainConfig

__all__ = ["EpisodicTrainer", "TaskSampler", "TrainConfig"]
