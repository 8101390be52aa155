import pytest

from tvig.errors import ConfigError
from tvig.profiles import (
    PROFILES,
    VQGAN_ARCHS,
    get_profile,
    missing_assets,
    profile_or_tiny,
)


def test_profiles_exist_and_are_frozen():
    assert set(PROFILES) == {"paper", "fast", "tiny"}
    p = get_profile("tiny")
    with pytest.raises(Exception):
        p.steps = 9  # frozen
    assert p.random_weights and not get_profile("paper").random_weights


def test_paper_profile_matches_design():
    p = get_profile("paper")
    assert p.clip_model.startswith("ViT-B-32") and p.image_size == 256
    a = p.arch
    assert (a.embed_dim, a.n_embed, a.ch, a.ch_mult, a.attn_resolutions) == (256, 16384, 128, (1, 1, 2, 2, 4), (16,))
    assert p.image_size // a.downsample == 16  # 256 px -> 16x16 latent


def test_tiny_latent_is_16x16():
    p = get_profile("tiny")
    assert p.image_size // p.arch.downsample == 16


def test_overrides_and_none_ignored():
    p = get_profile("tiny", steps=7, lr=None)
    assert p.steps == 7 and p.lr == PROFILES["tiny"].lr


@pytest.mark.parametrize("field,value,needle", [
    ("steps", 0, "steps must be a positive integer"),
    ("candidates", -3, "candidates must be a positive integer"),
    ("image_size", 2.5, "image_size must be a positive integer"),
    ("lr", 0.0, "lr must be a finite number > 0"),
    ("lambda_kl", -1.0, "lambda_kl must be a number >= 0"),
    ("sigma_floor", 0, "sigma_floor must be > 0"),
    ("keep", 99, "keep (99) cannot exceed candidates"),
    ("image_size", 62, "multiple of the VQGAN's downsampling factor 4"),
    ("vqgan", "nope", "valid vqgans"),
])
def test_bad_values_rejected_with_clear_message(field, value, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        get_profile("tiny", **{field: value})


def test_unknown_profile_and_field_list_valid_names():
    with pytest.raises(ConfigError, match="valid profiles: fast, paper, tiny"):
        get_profile("huge")
    with pytest.raises(ConfigError, match="unknown profile field.*stepz"):
        get_profile("tiny", stepz=3)


def test_all_zero_loss_weights_rejected():
    with pytest.raises(ConfigError, match="nothing to optimise"):
        get_profile("tiny", lambda_text=0, lambda_img=0, lambda_kl=0)


def test_ddconfig_has_taming_keys():
    dd = VQGAN_ARCHS["vqgan_imagenet_f16_16384"].ddconfig()
    assert set(dd) >= {"double_z", "z_channels", "resolution", "in_channels", "out_ch", "ch",
                       "ch_mult", "num_res_blocks", "attn_resolutions", "dropout"}


def test_fallback_to_tiny_is_loud_when_weights_missing():
    lines = []
    assert "clip_vit_b_32_openai" in missing_assets(get_profile("paper"))
    p = profile_or_tiny("paper", log=lines.append)
    assert p.name == "tiny"
    text = "\n".join(lines)
    assert "tvig download clip_vit_b_32_openai" in text and "RANDOM WEIGHTS" in text
    assert profile_or_tiny("tiny", log=lines.append).name == "tiny"
