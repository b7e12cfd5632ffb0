"""Models behind one interface: ``fit(X, y) -> self``; ``predict(X, return_std=False)``."""

from metamat.models.base import Classifier, FeaturePrep, Model, Regressor
from metamat.models.baselines import (
    CLASSIFIERS,
    MODELS,
    REGRESSORS,
    DummyRegressor,
    GBMRegressor,
    GPClassifier,
    GPRegressor,
    KNNClassifier,
    KNNRegressor,
    LogisticClassifier,
    MLPRegressor,
    RFClassifier,
    RFRegressor,
    RidgeRegressor,
    make_model,
)

__all__ = [
    "CLASSIFIERS", "MODELS", "REGRESSORS", "Classifier", "DummyRegressor", "FeaturePrep", "GBMRegressor",
    "GPClassifier", "GPRegressor", "KNNClassifier", "KNNRegressor", "LogisticClassifier", "MLPRegressor",
    "Model", "RFClassifier", "RFRegressor", "Regressor", "RidgeRegressor", "make_model",
]
