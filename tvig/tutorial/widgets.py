"""Interactive notebook widgets (ipywidgets), safe with no frontend.

Widgets draw into an ``Output`` by setting its content directly (:func:`show_in`), never with
``with out:`` capture or ``interactive_output``: under papermill/nbclient those capture
messages can leave the run waiting forever. So a headless run shows the first picture and
never hangs; in Jupyter/Colab the sliders redraw it.

Example:
    >>> box = sigma_explorer(vqgan, dist0, n=4)      # doctest: +SKIP
    >>> display(box)                                 # doctest: +SKIP
"""

from __future__ import annotations

import io

from tvig.generator.distribution import sample_images
from tvig.plots.common import image_grid


def show_in(out, fig, text: str | None = None, dpi: int = 90) -> None:
    """Replace the content of an ``ipywidgets.Output`` with ``text`` and the figure (closed)."""
    import matplotlib.pyplot as plt  # heavy: matplotlib is only needed to draw
    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    out.outputs = ()
    if text:
        out.append_stdout(text if text.endswith("\n") else text + "\n")
    out.append_display_data(Image(data=buf.getvalue(), format="png"))


def sigma_explorer(vqgan, dist, *, n: int = 4, max_scale: float = 3.0, seed: int = 0,
                   note: str | None = None):
    """Sliders for the sigma scale and the seed; shows n samples of N(mu, (scale*sigma)^2).

    Returns an ``ipywidgets.VBox`` (sliders + output area); ``box.update()`` redraws.
    """
    import ipywidgets as W  # heavy: widgets only inside a notebook

    scale = W.FloatSlider(value=1.0, min=0.0, max=max_scale, step=0.25, description="sigma x",
                          continuous_update=False)
    seed_w = W.IntSlider(value=seed, min=0, max=99, description="seed", continuous_update=False)
    out = W.Output()

    def update(*_) -> None:
        imgs = sample_images(vqgan, dist, n, seed=seed_w.value, scale=scale.value)
        show_in(out, image_grid(imgs.cpu(), ncol=n, title=f"z = mu + {scale.value:g} * sigma * "
                                f"eps  (seed {seed_w.value})" + (f"\n{note}" if note else "")))

    scale.observe(update, names="value")
    seed_w.observe(update, names="value")
    box = W.VBox([W.HBox([scale, seed_w]), out])
    box.update = update
    update()
    return box
