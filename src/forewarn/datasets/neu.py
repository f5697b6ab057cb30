"""NEU surface defect database, detection set NEU-DET (Song & Yan 2013; He et al. 2020): hot-rolled steel.

Layout: ``<data dir>/neu_det/IMAGES/<class>_<n>.jpg`` (200x200 greyscale JPEG) with one Pascal-VOC file
``neu_det/ANNOTATIONS/<class>_<n>.xml`` per image (one or more ``<object>`` boxes). Six classes of 300 images.

The image-level class comes from the file name. Box names are kept as annotated: upstream, some files hold
boxes named with another class (e.g. ``inclusion`` boxes in ``scratches_*`` files). Use the file-name class
for image classification and the box names for detection.

Images are not decoded here (that would need an imaging library): :attr:`NEUData.image_paths` and
:meth:`NEUData.image_bytes` give the JPEG files as they are.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()); (root / "neu_det/IMAGES").mkdir(parents=True)
>>> (root / "neu_det/ANNOTATIONS").mkdir()
>>> _ = (root / "neu_det/IMAGES/crazing_1.jpg").write_bytes(b"\\xff\\xd8 not really a jpeg")
>>> _ = (root / "neu_det/ANNOTATIONS/crazing_1.xml").write_text(
...     "<annotation><size><width>200</width><height>200</height></size><object><name>crazing</name>"
...     "<bndbox><xmin>2</xmin><ymin>3</ymin><xmax>190</xmax><ymax>194</ymax></bndbox></object></annotation>")
>>> data = load_neu(root)
>>> data.labels, data.images[0].boxes[0], data.image_bytes(0)[:2]
(['crazing'], NEUBox(name='crazing', xmin=2, ymin=3, xmax=190, ymax=194), b'\\xff\\xd8')
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forewarn.datasets._io import REPAIR_HINT, dataset_folder
from forewarn.exceptions import DataNotFoundError, SchemaError

FOLDER = "neu_det"
LAYOUT = "neu_det/IMAGES/<class>_<n>.jpg with neu_det/ANNOTATIONS/<class>_<n>.xml (Pascal VOC)"
CLASSES = ("crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches")
_COORDS = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class NEUBox:
    """One annotated defect box, in pixels (VOC convention, inclusive corners)."""

    name: str
    xmin: int
    ymin: int
    xmax: int
    ymax: int


@dataclass(frozen=True)
class NEUImage:
    """One image: its file, the class from its file name, its number within the class, and its boxes."""

    path: Path
    label: str
    number: int
    width: int
    height: int
    boxes: tuple[NEUBox, ...]


@dataclass(frozen=True)
class NEUData:
    """All images, ordered by class (:data:`CLASSES` order) then number."""

    images: list[NEUImage]

    @property
    def image_paths(self) -> list[Path]:
        """The JPEG file of each image."""
        return [image.path for image in self.images]

    @property
    def labels(self) -> list[str]:
        """The file-name class of each image."""
        return [image.label for image in self.images]

    def image_bytes(self, i: int) -> bytes:
        """The raw JPEG bytes of image ``i``."""
        return self.images[i].path.read_bytes()

    def boxes_frame(self) -> pd.DataFrame:
        """One row per box: ``image`` (index), ``label`` (file class), ``name`` (box class), corners."""
        rows = [
            (i, image.label, box.name, box.xmin, box.ymin, box.xmax, box.ymax)
            for i, image in enumerate(self.images)
            for box in image.boxes
        ]
        frame = pd.DataFrame(rows, columns=["image", "label", "name", *_COORDS])
        return frame.astype({"image": "int64", **dict.fromkeys(_COORDS, "int64")})


def _split_name(path: Path) -> tuple[str, int]:
    label, _, number = path.stem.rpartition("_")
    if label not in CLASSES or not number.isdigit():
        raise SchemaError(
            f"file name is not <class>_<n> with class one of {', '.join(CLASSES)}",
            source=f"IMAGES/{path.name}",
            hint="keep the original NEU-DET file names",
        )
    return label, int(number)


def _int(element: ET.Element | None, tag: str, source: str) -> int:
    text = element.findtext(tag) if element is not None else None
    try:
        return int(float(text))  # type: ignore[arg-type]  # a few VOC tools write "12.0"; None is the TypeError below
    except (TypeError, ValueError):
        raise SchemaError(f"<{tag}> is {text!r}, expected a whole number", source=source, hint=REPAIR_HINT) from None


def _parse_annotation(path: Path) -> tuple[int, int, tuple[NEUBox, ...]]:
    source = f"ANNOTATIONS/{path.name}"
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise SchemaError(
            f"not well-formed XML: {err}", source=source, line=err.position[0], hint=REPAIR_HINT
        ) from None
    size = root.find("size")
    width, height = _int(size, "width", source), _int(size, "height", source)
    boxes = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise SchemaError("an <object> has no <name>", source=source, hint=REPAIR_HINT)
        box = obj.find("bndbox")
        xmin, ymin, xmax, ymax = (_int(box, tag, source) for tag in _COORDS)
        if not (0 <= xmin <= xmax and 0 <= ymin <= ymax):
            raise SchemaError(f"box {(xmin, ymin, xmax, ymax)} has inverted or negative corners", source=source)
        boxes.append(NEUBox(name, xmin, ymin, xmax, ymax))
    if not boxes:
        raise SchemaError("no <object> box", source=source, hint="every NEU-DET image has at least one box")
    return width, height, tuple(boxes)


def load_neu(data_dir: str | os.PathLike[str] | None = None) -> NEUData:
    """List every image of ``neu_det/IMAGES`` with its class and the boxes of its annotation file."""
    folder = dataset_folder(FOLDER, data_dir, LAYOUT)
    image_dir, note_dir = folder / "IMAGES", folder / "ANNOTATIONS"
    paths = sorted(image_dir.glob("*.jpg"))
    if not paths:
        raise DataNotFoundError(f"no .jpg images in {str(image_dir)!r}; expected layout: {LAYOUT}")
    images = []
    for path in paths:
        label, number = _split_name(path)
        note = note_dir / f"{path.stem}.xml"
        if not note.is_file():
            raise DataNotFoundError(
                f"missing annotation {str(note)!r} for image {path.name}; expected layout: {LAYOUT}"
            )
        width, height, boxes = _parse_annotation(note)
        images.append(NEUImage(path=path, label=label, number=number, width=width, height=height, boxes=boxes))
    images.sort(key=lambda image: (CLASSES.index(image.label), image.number))
    return NEUData(images=images)
