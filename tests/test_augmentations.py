"""Status-consistent augmentations per class: the table, the default, overrides, and that the
generator and the detection control both obey it (no mirrored metal nut anywhere)."""
from __future__ import annotations

import json

import pytest
import torch

from tvig.augmentations import Augmenter, augment, load_rules, rules_for
from tvig.errors import ConfigError
from tvig.prompting.keywords import KEYWORDS

NO_FLIP = ["metal_nut", "screw", "capsule", "pill", "cable", "transistor",
           *KEYWORDS["mvtec_loco"]]


def test_every_dataset_class_has_a_reviewed_entry():
    tables = load_rules()["datasets"]
    for ds in ("mvtec_ad", "btad", "mvtec_loco"):
        assert set(tables[ds]) == set(KEYWORDS[ds]), ds
        for cat in KEYWORDS[ds]:
            r = rules_for(cat, ds)
            assert r.source == ds and r.why and r.why != load_rules()["default"]["why"]


@pytest.mark.parametrize("cat", NO_FLIP)
def test_classes_where_a_mirror_is_a_defect_have_no_flip(cat):
    r = rules_for(cat)
    assert not r.hflip and not r.vflip and r.padding == "border"
    ops = [type(m).__name__ for m in Augmenter(r).ops]
    assert not any("Flip" in o for o in ops)


def test_loco_has_no_rotation_and_textures_have_mirrors():
    for cat in KEYWORDS["mvtec_loco"]:
        r = rules_for(cat, "mvtec_loco")
        assert not r.rot90 and r.degrees == 0
    assert rules_for("carpet").hflip and rules_for("carpet").vflip
    assert rules_for("wood").rot90 is False  # the grain has a direction


def test_unknown_class_gets_the_conservative_default():
    for r in (rules_for("my_odd_part"), rules_for("metal_nut", "my_own_dataset")):
        assert r.source == "default"
        assert (r.hflip, r.vflip, r.rot90, r.degrees) == (False, False, False, 0)
        assert 0 < r.shift <= 0.1 and 0 < r.jitter <= 0.1


def test_user_file_overrides_field_by_field(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("datasets:\n  mvtec_ad:\n    screw: {degrees: 5, why: my reason}\n"
                 "  my_parts:\n    gear: {rot90: true}\n")
    r = rules_for("screw", path=f)
    assert (r.degrees, r.why, r.rot90, r.hflip, r.source) == (5, "my reason", True, False,
                                                               "mvtec_ad+override")
    assert rules_for("gear", "my_parts", path=f).rot90 is True
    f.write_text("datasets:\n  mvtec_ad:\n    screw: {mirror: true}\n")
    with pytest.raises(ConfigError, match="unknown field"):
        rules_for("screw", path=f)
    f.write_text("datasets:\n  mvtec_ad:\n    screw: {degrees: 400}\n")
    with pytest.raises(ConfigError, match="degrees"):
        rules_for("screw", path=f)


def test_no_flip_in_the_augmentations_themselves():
    """An asymmetric image: every augmentation is a rotation/shift of it, never a mirror."""
    x = torch.zeros(1, 3, 32, 32)
    x[0, :, 4:10, 4:28] = 1.0  # a horizontal bar near the top
    x[0, :, 4:18, 4:10] = 1.0  # and a shorter vertical one at the left: chiral
    r = rules_for("metal_nut")  # rot90 allowed, free rotation allowed, no mirrors
    r0 = type(r)(**{**r.to_dict(), "degrees": 0, "shift": 0, "jitter": 0})
    out = augment(x.repeat(16, 1, 1, 1), r0, seed=0)
    rots = [torch.rot90(x[0], k, dims=(1, 2)) for k in range(4)]
    mirrors = [torch.flip(t, dims=(2,)) for t in rots]
    for img in out:
        assert min((img - t).abs().max() for t in rots) < 1e-4
        assert min((img - t).abs().max() for t in mirrors) > 0.5


def test_generator_and_control_use_the_same_rules(tmp_path, sample_root):
    """sigma_0 of metal_nut and the detection control: no flip in either (same builder)."""
    from tvig.detection.training_sets import build_training_set
    from tvig.generator.distribution import shot_augmentations

    calls = []
    real = Augmenter.__init__

    def spy(self, rules):
        calls.append(rules)
        real(self, rules)

    Augmenter.__init__ = spy
    try:
        shots = sorted((sample_root / "metal_nut" / "train" / "good").glob("*.png"))[:1]
        r = rules_for("metal_nut", "mvtec_ad")
        shot_augmentations(torch.rand(1, 3, 16, 16), 2, r, seed=0)
        build_training_set("augmented", shots, tmp_path / "run", n_extra=2, augment=r)
    finally:
        Augmenter.__init__ = real
    assert len(calls) == 2 and all(not c.hflip and not c.vflip for c in calls)


def test_detection_prepare_defaults_to_the_class_rules():
    import inspect

    from tvig.detection import run

    assert "rules_for(category, dataset)" in inspect.getsource(run.prepare)


def test_cli_augmentations_json(cli):
    r = cli("augmentations", "--dataset", "mvtec_ad", "--category", "metal_nut", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["hflip"] is False and d["vflip"] is False and "flip" in d["why"]
    r = cli("augmentations", "--category", "my_odd_part")
    assert r.returncode == 0 and "default" in r.stdout
