"""Meta-learners: learn across many property tasks, then adapt to a new one from 5-50 measurements.

Every learner keeps the one model interface (docs/architecture.md): ``meta_fit(tasks)`` once, then per task
``fit(X_support, y_support)`` and ``predict(X, return_std=True)``. Make one by name with
:func:`metamat.models.registry.make_model` (``make_meta_model`` is the same function).
"""

from metamat.models.meta.registry import META_MODELS, make_meta_model

__all__ = ["META_MODELS", "make_meta_model"]
