"""NEU-DET loader: image and box counts from neu_det/MANIFEST.md, no JPEG decoding, bad annotations."""

from __future__ import annotations

from collections import Counter

import pytest

from forewarn.datasets.neu import CLASSES, NEUBox, load_neu
from forewarn.exceptions import DataNotFoundError, SchemaError

BOXES_PER_NAME = {
    "crazing": 689,
    "inclusion": 1011,
    "patches": 881,
    "pitted_surface": 432,
    "rolled-in_scale": 628,
    "scratches": 548,
}


@pytest.fixture(scope="module")
def neu(dataset_path):
    return load_neu(dataset_path("neu_det").parent)


@pytest.mark.needs_data
def test_images_per_class(neu):
    assert len(neu.images) == 1800 and len(neu.image_paths) == 1800
    assert Counter(neu.labels) == dict.fromkeys(CLASSES, 300)
    for label in CLASSES:
        assert sorted(i.number for i in neu.images if i.label == label) == list(range(1, 301))
    assert {(i.width, i.height) for i in neu.images} == {(200, 200)}
    assert neu.images[0].path.name == "crazing_1.jpg" and neu.images[-1].path.name == "scratches_300.jpg"


@pytest.mark.needs_data
def test_boxes_match_manifest(neu):
    boxes = neu.boxes_frame()
    assert len(boxes) == 4189
    assert boxes["name"].value_counts().to_dict() == BOXES_PER_NAME
    foreign = boxes[boxes["name"] != boxes["label"]]
    assert foreign["image"].nunique() == 123  # upstream quirk, kept as is
    assert int(((boxes["label"] == "scratches") & (boxes["name"] == "inclusion")).sum()) == 71
    assert (boxes["xmin"] <= boxes["xmax"]).all() and (boxes["ymax"] <= 200).all()
    # crazing_1.xml: one box 2,2,193,194
    assert neu.images[0].boxes == (NEUBox("crazing", 2, 2, 193, 194),)


@pytest.mark.needs_data
def test_image_bytes_are_jpeg_files(neu):
    data = neu.image_bytes(0)
    assert data[:3] == b"\xff\xd8\xff" and len(data) == neu.image_paths[0].stat().st_size


# ---------------------------------------------------------------- bad or missing files

XML = (
    "<annotation><size><width>200</width><height>200</height><depth>1</depth></size>"
    "<object><name>{name}</name><bndbox><xmin>{xmin}</xmin><ymin>5</ymin><xmax>50</xmax><ymax>60</ymax>"
    "</bndbox></object></annotation>"
)


def _write(root, stem="patches_7", xml=None):
    (root / "neu_det" / "IMAGES").mkdir(parents=True, exist_ok=True)
    (root / "neu_det" / "ANNOTATIONS").mkdir(exist_ok=True)
    (root / "neu_det" / "IMAGES" / f"{stem}.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    if xml is not False:
        text = xml if xml is not None else XML.format(name="patches", xmin=4)
        (root / "neu_det" / "ANNOTATIONS" / f"{stem}.xml").write_text(text)
    return root


def test_small_valid_layout(tmp_path):
    data = load_neu(_write(tmp_path))
    assert data.labels == ["patches"] and data.images[0].number == 7
    assert data.boxes_frame().iloc[0][["name", "xmin", "ymax"]].tolist() == ["patches", 4, 60]


def test_missing_images_and_annotations(tmp_path):
    (tmp_path / "neu_det" / "IMAGES").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match=r"no \.jpg images.*expected layout"):
        load_neu(tmp_path)
    _write(tmp_path, xml=False)
    with pytest.raises(DataNotFoundError, match=r"missing annotation .*patches_7\.xml"):
        load_neu(tmp_path)


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<annotation>\n<size>\n</annotation>", r"ANNOTATIONS/patches_7\.xml, line 3: not well-formed XML"),
        (XML.format(name="patches", xmin="left"), r"<xmin> is 'left', expected a whole number"),
        (XML.format(name="", xmin=4), r"an <object> has no <name>"),
        (XML.format(name="patches", xmin=90), r"inverted or negative corners"),
        ("<annotation><size><width>200</width><height>200</height></size></annotation>", "no <object> box"),
    ],
)
def test_bad_annotations(tmp_path, xml, message):
    with pytest.raises(SchemaError, match=message):
        load_neu(_write(tmp_path, xml=xml))


def test_unknown_class_in_file_name(tmp_path):
    with pytest.raises(SchemaError, match=r"IMAGES/rust_1\.jpg: file name is not <class>_<n>"):
        load_neu(_write(tmp_path, stem="rust_1"))
