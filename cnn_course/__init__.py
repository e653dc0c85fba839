"""Helpers for the CNN course: data loading, training, evaluation, shapes, plots and exercises.

Importing the package has no side effects: no seeding, no device choice, no downloads.
Widgets live in :mod:`cnn_course.widgets` and are imported only when a notebook asks for them.
"""

from .callbacks import Callback
from .datasets import DataError
from .evaluation import confusion_matrix, evaluate, predict
from .exercises import check, exercise, solution
from .history import ChanceLevelWarning, History, TrainingDiverged
from .loaders import Loader, TensorLoader, load_data
from .plotting import (
    plot_confusion_matrix,
    plot_feature_maps,
    plot_kernels,
    plot_losses,
    show_images,
    show_mistakes,
)
from .profiles import choose_settings, get_profile
from .receptive_field import input_region, measure_input_region, receptive_fields
from .results import record_result
from .runtime import bf16_supported, get_device, set_seed
from .shapes import ShapeError, conv_output_size, layer_shapes, pool_output_size
from .training import train

__version__ = "0.1.0"

__all__ = [
    "Callback",
    "ChanceLevelWarning",
    "DataError",
    "History",
    "Loader",
    "ShapeError",
    "TensorLoader",
    "TrainingDiverged",
    "bf16_supported",
    "check",
    "choose_settings",
    "confusion_matrix",
    "conv_output_size",
    "evaluate",
    "exercise",
    "get_device",
    "get_profile",
    "input_region",
    "layer_shapes",
    "load_data",
    "measure_input_region",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_kernels",
    "plot_losses",
    "pool_output_size",
    "predict",
    "receptive_fields",
    "record_result",
    "set_seed",
    "show_images",
    "show_mistakes",
    "solution",
    "train",
]
