"""Helpers for the CNN course: data loading, training, evaluation, shapes, plots and exercises.

Importing the package has no side effects: no seeding, no device choice, no downloads.
Widgets live in :mod:`cnn_course.widgets` and are imported only when a notebook asks for them.
"""

from .data import DataError, TensorLoader, load_data
from .exercises import check, exercise, solution
from .plotting import (
    plot_confusion_matrix,
    plot_feature_maps,
    plot_kernels,
    plot_losses,
    show_images,
    show_mistakes,
)
from .profiles import choose_settings, get_profile
from .results import record_result
from .shapes import ShapeError, conv_output_size, layer_shapes, pool_output_size
from .training import (
    ChanceLevelWarning,
    History,
    TrainingDiverged,
    confusion_matrix,
    evaluate,
    get_device,
    predict,
    set_seed,
    train,
)

__version__ = "0.1.0"

__all__ = [
    "ChanceLevelWarning",
    "DataError",
    "History",
    "ShapeError",
    "TensorLoader",
    "TrainingDiverged",
    "check",
    "choose_settings",
    "confusion_matrix",
    "conv_output_size",
    "evaluate",
    "exercise",
    "get_device",
    "get_profile",
    "layer_shapes",
    "load_data",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_kernels",
    "plot_losses",
    "pool_output_size",
    "predict",
    "record_result",
    "set_seed",
    "show_images",
    "show_mistakes",
    "solution",
    "train",
]
