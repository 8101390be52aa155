"""What anomalib reads, checked (and made readable) before a detector loads.

anomalib opens every image with ``PIL.Image.open(path).convert("RGB")``: a truncated file
fails deep inside a dataloader with no file name, and a 16-bit PNG is clipped to almost white
(scores near chance, no warning). :func:`readable_folder` decodes every image of a folder once
with tvig's reader (:func:`tvig.images.open_image`: the error names the file) and, when some
are high bit depth, writes 8-bit copies next to links of the others; the detector is given
that folder. Folders are also handed over under an ASCII name (:func:`tvig.paths.ascii_path`).

Example:
    >>> import tempfile, numpy as np; from PIL import Image
    >>> d = Path(tempfile.mkdtemp()); (d / "test").mkdir()
    >>> Image.fromarray(np.full((16, 16), 30000, np.uint16)).save(d / "test" / "000.png")
    >>> folder, notes = readable_folder(d / "test", d / "8bit")
    >>> folder.name, Image.open(folder / "000.png").mode, len(notes)
    ('8bit', 'RGB', 1)
"""

from __future__ import annotations

import os
from pathlib import Path

from tvig.images import (
    HIGH_BIT_MODES,
    link_files,
    list_images,
    open_image,
    pil_to_tensor,
    save_png,
)


def readable_folder(folder: "str | os.PathLike[str]", dest: "str | os.PathLike[str]",
                    ) -> tuple[Path, list[str]]:
    """``(folder, [])`` when every image there reads correctly as RGB, else ``(dest, [note])``
    with ``dest`` holding links of those images and 8-bit PNG copies of the high-bit-depth
    ones (same stems, so masks still pair by name). A corrupt image raises
    :class:`tvig.errors.InputError` naming it."""
    folder, dest = Path(folder), Path(dest)
    files = list_images(folder)
    converted = {}
    for f in files:
        img, info = open_image(f)
        if info.original_mode in HIGH_BIT_MODES:
            converted[f] = (img, info.original_mode)
    if not converted:
        return folder, []
    modes = sorted({mode for _, mode in converted.values()})
    link_files([f for f in files if f not in converted], dest)
    for f, (img, _) in converted.items():
        save_png(pil_to_tensor(img), dest / f"{f.stem}.png")
    return dest, [f"{len(converted)} image(s) in {folder} are high bit depth ({', '.join(modes)}):"
                  f" converted to 8-bit RGB copies in {dest} for the detector"]
