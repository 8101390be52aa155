"""tvig: text-guided variational image generation for industrial anomaly detection.

A tutorial package and a tested library reproducing and extending Lee & Choi, CVPR 2024:
from one or a few non-defective images of a product and its name, generate many more
plausible non-defective images (WordNet prompts, CLIP, a variance-aware VQGAN, an iterative
selector) and measure how much they help anomaly detectors (anomalib).

Modules: ``profiles``, ``assets``, ``images``, ``sample_data``, ``wordnet``, ``clip``,
``prompting``, ``vqgan``, ``generation``, ``integration``, ``data``, ``detection``, ``plots``,
``cli``. Heavy modules are imported on demand.
"""

__version__ = "0.1.0"

from tvig.errors import (  # noqa: F401
    AssetError,
    AssetMissingError,
    ConfigError,
    InputError,
    TvigError,
)
from tvig.profiles import PROFILES, Profile, get_profile  # noqa: F401
