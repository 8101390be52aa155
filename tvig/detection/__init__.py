"""Detection: does generation help an unchanged anomaly detector? (notebook ``04_detection``).

Paper: Lee & Choi, CVPR 2024, https://arxiv.org/abs/2403.06247, Sec. 4 (experiments on MVTec
AD, BTAD and MVTec LOCO AD; 1-shot, few-shot and full-shot). Datasets and the one k-shot rule
(:mod:`~tvig.detection.datasets`, :mod:`~tvig.detection.loco`, :mod:`~tvig.detection.shots`),
embedded sample classes (:mod:`~tvig.detection.sample_data`), the three training sets: real,
+generated and the +augmentation control (:mod:`~tvig.detection.training_sets`), anomalib
detectors (:mod:`~tvig.detection.detectors`, :mod:`~tvig.detection.efficient_ad`), one run
(:mod:`~tvig.detection.run`), its metrics on the raw predictions of the whole test set
(:mod:`~tvig.detection.predictions`, :mod:`~tvig.detection.metrics`) and the grid
(:mod:`~tvig.detection.grid`).

Public names: :func:`resolve_class`, :func:`choose_files`, :func:`parse_shots`,
:func:`load_shots`, :data:`SAMPLE_CLASSES`, :func:`write_sample_data`, :data:`TRAIN_SETS`,
:func:`build_training_set`, :data:`DETECTORS`, :func:`build_detector`, :func:`run_detection`,
:func:`detection_metrics`,
:class:`GridSpec`, :func:`run_grid`, :func:`summarise`.

Example:
    >>> from pathlib import Path
    >>> from tvig.detection import choose_files
    >>> files = [Path(f"{i}.png") for i in range(8)]
    >>> one, five = choose_files(files, 1, seed=0), choose_files(files, 5, seed=0)
    >>> one[0] in five  # the k-shot rule nests
    True
"""

from tvig.detection.config import DetectionConfig
from tvig.detection.datasets import choose_files, parse_shots, resolve_class
from tvig.detection.detectors import DETECTORS, build_detector
from tvig.detection.grid import GridSpec, run_grid, summarise
from tvig.detection.metrics import detection_metrics
from tvig.detection.run import run_detection
from tvig.detection.sample_data import SAMPLE_CLASSES, write_sample_data
from tvig.detection.shots import load_shots
from tvig.detection.training_sets import TRAIN_SETS, build_training_set

__all__ = ["DetectionConfig", "choose_files", "parse_shots", "resolve_class", "DETECTORS",
           "build_detector", "GridSpec", "run_grid", "summarise", "run_detection",
           "detection_metrics", "SAMPLE_CLASSES", "write_sample_data", "load_shots", "TRAIN_SETS",
           "build_training_set"]
