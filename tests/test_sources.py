"""Frame sources: the synthetic camera, video files and image folders."""

import cv2
import numpy as np
import pytest

from edge.errors import EdgeError
from edge.sources import FolderSource, SyntheticSource, VideoSource, open_source
from edge.sources.shapes import CLASSES


def test_synthetic_camera_is_deterministic_and_knows_its_truth():
    a = list(SyntheticSource(frames=12, width=160, height=120, seed=5, segment=4))
    b = list(SyntheticSource(frames=12, width=160, height=120, seed=5, segment=4))
    c = list(SyntheticSource(frames=12, width=160, height=120, seed=6, segment=4))
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))
    assert not np.array_equal(a[0].image, c[0].image)
    assert [f.index for f in a] == list(range(12))
    assert all(f.image.shape == (120, 160, 3) and f.truth["label"] in CLASSES for f in a)
    x0, y0, x1, y1 = a[0].truth["box"]
    assert 0 <= x0 < x1 <= 160 and 0 <= y0 < y1 <= 120
    # the shape moves between frames of one segment
    assert a[1].truth["box"] != a[0].truth["box"] and a[1].truth["label"] == a[0].truth["label"]


def test_video_file_yields_every_frame(assets):
    with VideoSource(str(assets / "video" / "traffic_frames.mp4")) as source:
        frames = list(source)
    assert len(frames) == 20 and frames[0].image.shape == (540, 960, 3)


def test_folder_source_skips_and_counts_unreadable_images(tmp_path, capfd):
    """Skipped and counted, with nothing on standard error from the decoders: a PNG cut short is
    found before libpng would print its own line."""
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "b.jpg").write_bytes(b"broken")
    cv2.imwrite(str(tmp_path / "c.png"), np.ones((8, 8, 3), np.uint8))
    png = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))[1]
    (tmp_path / "d.png").write_bytes(png.tobytes()[:-20])
    source = open_source(str(tmp_path))
    assert isinstance(source, FolderSource)
    frames = list(source)
    assert [f.name.split("/")[-1] for f in frames] == ["a.png", "c.png"] and source.skipped == 2
    assert capfd.readouterr().err == ""


def test_a_png_cut_anywhere_is_found_by_its_chunks_and_a_whole_one_is_not(assets):
    from edge.sources.images import png_cut_short

    png = cv2.imencode(".png", cv2.imread(str(assets / "images/dog.jpg")))[1]
    assert not png_cut_short(png)
    assert all(png_cut_short(png[:k]) for k in range(8, len(png), 97))  # in headers, contents, CRCs
    jpeg = np.fromfile(str(assets / "images/dog.jpg"), np.uint8)
    assert not png_cut_short(jpeg) and not png_cut_short(jpeg[:100])  # not a PNG: left to OpenCV


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(EdgeError, match="unknown source"):
        open_source("nothing-here")
    for gone in (tmp_path / "gone.mp4", tmp_path / "clips"):  # a path, not a name: say it is missing
        with pytest.raises(EdgeError, match="no such file or folder"):
            open_source(str(gone))
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(EdgeError, match="cannot open video"):
        open_source(str(bad))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgeError, match="no images"):
        open_source(str(tmp_path / "empty"))
