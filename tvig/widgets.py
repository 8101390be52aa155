"""Interactive notebook widgets (ipywidgets). They render once when built, so a headless
papermill run shows the initial picture and nothing breaks.

Example:
    >>> box = sigma_explorer(vqgan, dist0, n=4)      # doctest: +SKIP
    >>> display(box)                                 # doctest: +SKIP
"""

from __future__ import annotations


def sigma_explorer(vqgan, dist, *, n: int = 4, max_scale: float = 3.0, seed: int = 0,
                   note: str | None = None):
    """Sliders for the sigma scale and the seed; shows n samples of N(mu, (scale*sigma)^2).

    Returns an ``ipywidgets.VBox`` (sliders + output area).
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    from .generation import sample_images
    from .plots.common import image_grid

    scale = W.FloatSlider(value=1.0, min=0.0, max=max_scale, step=0.25, description="sigma x",
                          continuous_update=False)
    seed_w = W.IntSlider(value=seed, min=0, max=99, description="seed", continuous_update=False)

    def show(scale: float, seed: int) -> None:
        imgs = sample_images(vqgan, dist, n, seed=seed, scale=scale)
        fig = image_grid(imgs.cpu(), ncol=n, title=f"z = mu + {scale:g} * sigma * eps  (seed {seed})"
                         + (f"\n{note}" if note else ""))
        display(fig)
        plt.close(fig)

    out = W.interactive_output(show, {"scale": scale, "seed": seed_w})
    return W.VBox([W.HBox([scale, seed_w]), out])
