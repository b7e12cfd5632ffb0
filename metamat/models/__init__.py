"""Models behind one interface (:mod:`metamat.models.protocol`) and one registry (:mod:`metamat.models.registry`)."""

from metamat.models.base import Classifier, FeaturePrep, Model, Regressor
from metamat.models.baselines import (
    BASELINES,
    CLASSIFIERS,
    MODELS,
    REGRESSORS,
    DummyClassifier,
    DummyRegressor,
    GBMRegressor,
    GPClassifier,
    GPRegressor,
    KNNClassifier,
    KNNRegressor,
    LogisticClassifier,
    MedianRegressor,
    MLPRegressor,
    RFClassifier,
    RFRegressor,
    RidgeRegressor,
)
from metamat.models.protocol import ClassifierProtocol, ModelEntry, RegressorProtocol, SaveableModel
from metamat.models.registry import load, load_model, make_model, registry_name, save_model

__all__ = [
    "BASELINES", "CLASSIFIERS", "MODELS", "REGRESSORS", "Classifier", "ClassifierProtocol", "DummyClassifier",
    "DummyRegressor", "FeaturePrep", "GBMRegressor", "GPClassifier", "GPRegressor", "KNNClassifier",
    "KNNRegressor", "LogisticClassifier", "MLPRegressor", "MedianRegressor", "Model", "ModelEntry",
    "RFClassifier", "RFRegressor", "Regressor", "RegressorProtocol", "RidgeRegressor", "SaveableModel", "load",
    "load_model", "make_model", "registry_name", "save_model",
]
