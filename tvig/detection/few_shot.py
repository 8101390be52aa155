"""The few-shot state of the art as reference rows: anomalib's AnomalyDINO and WinCLIP.

Both are anomalib's own models, unchanged, run through the same protocol and training sets as
the paper's detectors (real / + generated / + augmentation control):

- **AnomalyDINO** (Damm et al., WACV 2025, arXiv 2405.14529; 96.6 image AUROC at 1-shot on
  MVTec AD in its paper): a memory bank of DINOv2 ViT-S/14 patch features (timm
  ``vit_small_patch14_dinov2``), cosine 1-NN distance, image score = mean of the top 1 % patch
  distances; anomalib defaults: ``num_neighbours=1``, no masking, no coreset. Every training
  image goes into the memory bank.
- **WinCLIP+** (Jeong et al., CVPR 2023, arXiv 2303.14814; 93.1 image AUROC at 1-shot on
  MVTec AD in its paper): CLIP ViT-B-16-plus-240 (LAION-400M) text prompts plus window /
  patch features of reference normal images; anomalib defaults: ``scales=(2, 3)``, fixed
  240 px input. tvig sets ``k_shot`` to the training set's size, so **every** training image
  (generated ones too) is a reference, and the class name (``metal_nut`` -> "metal nut")
  fills the prompts.

Neither downloads during a run. Without cached weights AnomalyDINO gets a random ViT-S (same
architecture) and WinCLIP a small random CLIP (``tvig-tiny-clip``; the full ViT-B-16+ at
random costs ~10 s per image on a laptop CPU for equally meaningless scores); the run says so
loudly and its rows carry ``pretrained=False``.

Example:
    >>> from tvig.detection.few_shot import prompt_name
    >>> prompt_name("metal_nut")
    'metal nut'
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from tvig.detection.backbones import cached_hf_file
from tvig.models.clip import register_tiny_config

WINCLIP_HUB = "timm/vit_base_patch16_plus_clip_240.laion400m_e31"  # open_clip's hf_hub entry
WINCLIP_STANDIN = "tvig-tiny-clip"


def prompt_name(category: str) -> str:
    return category.replace("_", " ")


def winclip_weights_cached() -> bool:
    """open_clip's ViT-B-16-plus-240 / laion400m_e31 weights in the local Hub cache."""
    return cached_hf_file(WINCLIP_HUB, ("open_clip_model.safetensors",
                                        "open_clip_pytorch_model.bin"))


def anomaly_dino(kwargs: dict[str, Any], use_weights: bool, **common):
    """anomalib's AnomalyDINO; ``use_weights=False`` builds its ViT with random weights
    (anomalib always asks timm for pretrained ones, which would download)."""
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    import anomalib.models.image.anomaly_dino.torch_model as T
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.models import AnomalyDINO

    if use_weights:
        return AnomalyDINO(**kwargs, **common)
    extractor = T.TimmFeatureExtractor
    random = lambda *a, **k: extractor(*a, **{**k, "pre_trained": False})  # noqa: E731
    with mock.patch.object(T, "TimmFeatureExtractor", random):
        return AnomalyDINO(**kwargs, **common)


def winclip(kwargs: dict[str, Any], use_weights: bool, **common):
    """anomalib's WinCLIP with every training image as a reference (see the module text).

    Its input size is anomalib's fixed 240 px (the stand-in's own 64 px offline), whatever
    the run's ``image_size``; ``common``'s pre-processor is replaced accordingly.
    """
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    import anomalib.models.image.winclip.torch_model as T
    import open_clip  # heavy: open_clip imports timm and tokenizers; only WinCLIP needs it
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.models import WinClip
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.pre_processing import PreProcessor

    class AllShotsWinClip(WinClip):
        """WinCLIP whose reference set is the whole training set (``k_shot`` = its size)."""

        def setup(self, stage: str) -> None:
            if not self.is_setup:
                dm = self.trainer.datamodule
                self.k_shot = len(dm.train_data)
                self.class_name = self.class_name or prompt_name(
                    getattr(dm, "category", None) or dm.name)
            super().setup(stage)

    pre = WinClip.configure_pre_processor()  # Resize((240, 240)) + CLIP's Normalize
    if use_weights:
        return AllShotsWinClip(k_shot=1, **kwargs, **dict(common, pre_processor=pre))
    register_tiny_config()
    size = open_clip.get_model_config(WINCLIP_STANDIN)["vision_cfg"]["image_size"]
    pre.transform.transforms[0].size = [size, size]
    pre = PreProcessor(transform=pre.transform)  # rebuilt: its export copy follows the size
    with mock.patch.object(T, "BACKBONE", WINCLIP_STANDIN), mock.patch.object(T, "PRETRAINED",
                                                                              None):
        return AllShotsWinClip(k_shot=1, **kwargs, **dict(common, pre_processor=pre))
