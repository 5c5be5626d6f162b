"""Export: PNG and SVG of a view or a window, a GIF and a PNG sequence of recorded frames."""

from __future__ import annotations

import base64
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pyqtgraph as pg
import pytest
import shiboken6
from PySide6 import QtGui, QtWidgets

from bpttviz.features.export import SUFFIXES, AnimationRecorder, export_png, export_svg, export_window

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"
DRAWING = {"path", "polyline", "polygon", "rect", "line", "image", "text", "circle", "ellipse"}


@pytest.fixture
def row_major():
    old = pg.getConfigOption("imageAxisOrder")
    pg.setConfigOptions(imageAxisOrder="row-major")
    yield
    pg.setConfigOptions(imageAxisOrder=old)


class Figure(QtWidgets.QWidget):
    """A small stand-in for a view: a title, a line plot and a heatmap."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Export test figure")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel("Deltas over time"))
        self.plot = pg.PlotWidget(background="w")
        x = np.linspace(0, 6, 50)
        self.plot.plot(x, np.sin(x), pen=pg.mkPen("#0072B2", width=3))
        layout.addWidget(self.plot)
        self.heat = pg.PlotWidget(background="w")
        self.image = pg.ImageItem()
        self.image.setLookupTable(pg.colormap.get("CET-D1").getLookupTable(nPts=256))
        self.heat.addItem(self.image)
        layout.addWidget(self.heat)
        self.set_frame(0)
        self.resize(420, 360)

    def set_frame(self, k: int) -> None:
        rows = np.arange(8)[:, None]
        cols = np.arange(12)[None, :]
        data = np.sin(0.7 * rows + 0.5 * cols + 0.9 * k).astype(np.float32)  # (8, 12) row-major
        self.image.setImage(data, levels=(-1, 1))


@pytest.fixture
def figure(qtbot, row_major):
    w = Figure()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def colours(image: QtGui.QImage, step: int = 3) -> int:
    """How many distinct colours a grid of pixels holds (a blank image has one)."""
    seen = {image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)}
    return len(seen)


def no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") and p.suffix == ".tmp"]


# ------------------------------------------------------------------------------ PNG
def test_png_of_a_window(figure, tmp_path):
    path = export_png(figure, tmp_path / "figure.png")
    assert path == tmp_path / "figure.png"
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = QtGui.QImage(str(path))
    assert not image.isNull()
    assert (image.width(), image.height()) == (figure.width(), figure.height())
    assert colours(image) > 20  # lines, text and a heatmap, not a blank rectangle
    assert no_temp_files(tmp_path)


def test_png_of_a_plot_widget_scaled(figure, tmp_path):
    path = export_png(figure.heat, tmp_path / "heat.png", scale=2.0)
    image = QtGui.QImage(str(path))
    assert (image.width(), image.height()) == (2 * figure.heat.width(), 2 * figure.heat.height())
    assert colours(image) > 20


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "big", 100])
def test_png_bad_scale(figure, tmp_path, bad):
    with pytest.raises(ValueError, match="scale"):
        export_png(figure, tmp_path / "x.png", scale=bad)
    assert not (tmp_path / "x.png").exists()


def test_png_missing_folder_is_clear(figure, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_png(figure, tmp_path / "nope" / "x.png")


# ------------------------------------------------------------------------------ SVG
def parse_svg(path):
    root = ET.parse(path).getroot()
    assert root.tag == SVG_NS + "svg"
    return root


def drawing_elements(root) -> int:
    return sum(1 for el in root.iter() if el.tag.removeprefix(SVG_NS) in DRAWING)


def test_svg_of_a_window(figure, tmp_path):
    path = export_svg(figure, tmp_path / "figure.svg", title="Deltas", description="t = 3")
    root = parse_svg(path)
    assert (root.get("width"), root.get("height")) == (f"{figure.width()}px", f"{figure.height()}px")
    assert root.get("viewBox").split() == ["0", "0", str(figure.width()), str(figure.height())]
    assert root.find(SVG_NS + "title").text == "Deltas"
    assert root.find(SVG_NS + "desc").text == "t = 3"
    assert drawing_elements(root) > 5
    # the heatmap is embedded (no external resources), the curve is a vector path
    images = [el for el in root.iter(SVG_NS + "image")]
    assert images and all(
        (el.get("{http://www.w3.org/1999/xlink}href") or el.get("href") or "").startswith("data:") for el in images)
    assert no_temp_files(tmp_path)


def points(el) -> np.ndarray:
    """The (x, y) pairs of a polyline's points or a path's data."""
    text = el.get("points") or el.get("d") or ""
    return np.array([[float(a), float(b)] for a, b in re.findall(r"(-?[\d.eE+-]+),(-?[\d.eE+-]+)", text)])


def curve_and_clip(root):
    """The sine curve's points and the bounding box of the clip path it is drawn under."""
    parents = {child: parent for parent in root.iter() for child in parent}
    clips = {c.get("id"): c for c in root.iter(SVG_NS + "clipPath")}
    group = next(g for g in root.iter(SVG_NS + "g") if g.get("stroke") == "#0072b2")
    pts = np.concatenate([points(el) for el in group])
    node, clip = group, None
    while node in parents:
        node = parents[node]
        ref = node.get("clip-path")
        if ref:
            clip = points(clips[ref[len("url(#"):-1]][0])
            break
    return group, pts, clip


def test_svg_geometry_is_where_the_widget_shows_it(figure, tmp_path):
    """The curve comes out in the figure's coordinates, with its own clip around it, and with no
    transform + non-scaling-stroke pair that some viewers draw as a huge blob."""
    root = parse_svg(export_svg(figure, tmp_path / "figure.svg"))
    assert not [el for el in root.iter() if el.get("vector-effect") == "non-scaling-stroke"]
    group, pts, clip = curve_and_clip(root)
    assert "transform" not in group.attrib
    plot = figure.plot.geometry()  # in the figure's coordinates
    assert len(pts) >= 40
    assert plot.left() <= pts[:, 0].min() and pts[:, 0].max() <= plot.right() + 1
    assert plot.top() <= pts[:, 1].min() and pts[:, 1].max() <= plot.bottom() + 1
    assert pts[:, 1].max() - pts[:, 1].min() > plot.height() / 3  # a sine, not a flat line
    assert clip is not None
    lo, hi = clip.min(0), clip.max(0)
    assert np.all(pts >= lo - 2) and np.all(pts <= hi + 2)  # the clip contains what it clips
    assert np.all(lo >= [plot.left() - 1, plot.top() - 1]) and np.all(hi <= [plot.right() + 1, plot.bottom() + 1])


def test_svg_heatmap_cells_stay_sharp(figure, tmp_path):
    root = parse_svg(export_svg(figure, tmp_path / "figure.svg"))
    images = [el for el in root.iter(SVG_NS + "image") if (el.get("width"), el.get("height")) == ("12", "8")]
    assert len(images) == 1
    href = images[0].get("{http://www.w3.org/1999/xlink}href")
    png = QtGui.QImage.fromData(base64.b64decode(href.split(",", 1)[1]), "PNG")
    assert png.width() % 12 == 0 and png.height() % 8 == 0 and png.width() // 12 >= 2  # enlarged, whole cells
    assert png.width() // 12 == png.height() // 8
    assert "pixelated" in images[0].get("style", "")


def test_svg_of_a_plot_widget_through_its_scene(figure, tmp_path):
    path = export_svg(figure.plot, tmp_path / "plot.svg")
    root = parse_svg(path)
    assert root.get("viewBox").split() == ["0", "0", str(figure.plot.width()), str(figure.plot.height())]
    assert root.find(SVG_NS + "title").text == "Export test figure"  # defaults to the window title
    assert any(el.tag.removeprefix(SVG_NS) in ("path", "polyline") for el in root.iter())
    group, pts, clip = curve_and_clip(root)
    w, h = figure.plot.width(), figure.plot.height()
    assert pts[:, 0].min() >= 0 and pts[:, 0].max() <= w and pts[:, 1].min() >= 0 and pts[:, 1].max() <= h
    assert np.all(pts >= clip.min(0) - 2) and np.all(pts <= clip.max(0) + 2)


# ------------------------------------------------------------------------------ by suffix
def test_export_window_by_suffix(figure, tmp_path):
    assert export_window(figure, tmp_path / "a.PNG").read_bytes()[:8] == PNG_SIGNATURE
    parse_svg(export_window(figure, tmp_path / "a.svg"))
    assert SUFFIXES == (".png", ".svg")


@pytest.mark.parametrize("name", ["a.jpg", "a", "a.svg.txt", "a.pdf"])
def test_export_window_bad_suffix(figure, tmp_path, name):
    with pytest.raises(ValueError, match=r"\.png, \.svg"):
        export_window(figure, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_replaced_whole(figure, tmp_path):
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    export_png(figure, path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError):
        export_png(figure, path, scale=0)
    assert path.read_bytes()[:8] == PNG_SIGNATURE  # a failed export leaves the good file alone


def test_not_a_widget():
    with pytest.raises(TypeError, match="widget"):
        export_png("window", "x.png")


# ------------------------------------------------------------------------------ animation
def record(figure, qtbot, n, **kwargs):
    rec = AnimationRecorder(figure, **kwargs)
    for k in range(n):
        figure.set_frame(k)
        qtbot.wait(1)  # let the scene process the new image once
        rec.grab()
    return rec


def test_gif_of_a_few_frames(figure, qtbot, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rec = record(figure, qtbot, 4, fps=5)
    assert len(rec) == 4 and rec.nbytes > 0
    path = rec.save_gif(tmp_path / "anim.gif")
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.n_frames == 4
        assert im.size == rec.frame_size
        assert im.info.get("duration") == 200
    assert no_temp_files(tmp_path)


def test_png_sequence(figure, qtbot, tmp_path):
    rec = record(figure, qtbot, 3)
    paths = rec.save_png_sequence(tmp_path / "frames")
    assert [p.name for p in paths] == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    images = [QtGui.QImage(str(p)) for p in paths]
    assert all(not im.isNull() and colours(im) > 20 for im in images)
    assert images[0] != images[1]  # the heatmap changed between frames


def test_recording_is_bounded(figure, qtbot):
    rec = record(figure, qtbot, 3, max_frames=2, downscale=0.5)
    assert len(rec) == 2 and rec.full
    assert rec.grab() is False and len(rec) == 2
    w, h = rec.frame_size
    assert abs(w - figure.width() / 2) <= 1 and abs(h - figure.height() / 2) <= 1
    assert rec.frame(1).width() == w
    rec.clear()
    assert len(rec) == 0 and not rec.full and rec.grab()
    tiny = AnimationRecorder(figure, max_bytes=10)
    assert tiny.grab() is False and tiny.full and len(tiny) == 0


def test_recorder_survives_its_widget(qtbot):
    w = QtWidgets.QLabel("gone soon")
    w.resize(50, 20)
    rec = AnimationRecorder(w)
    assert rec.grab()
    w.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(w))
    assert rec.grab() is False and len(rec) == 1


def test_recorder_timer(figure, qtbot):
    rec = AnimationRecorder(figure, fps=50, max_frames=3)
    rec.start()
    qtbot.waitUntil(lambda: rec.full, timeout=5000)
    assert len(rec) == 3 and not rec.recording


@pytest.mark.parametrize("kwargs", [dict(fps=0), dict(fps="x"), dict(max_frames=0), dict(max_frames=2.5),
                                    dict(downscale=0), dict(downscale=2), dict(max_bytes=0)])
def test_recorder_bad_arguments(figure, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        AnimationRecorder(figure, **kwargs)


def test_saving_nothing_is_clear(figure, tmp_path):
    rec = AnimationRecorder(figure)
    with pytest.raises(ValueError, match="grab"):
        rec.save_png_sequence(tmp_path)


def test_gif_without_pillow_says_how_to_get_it(figure, qtbot, tmp_path, monkeypatch):
    rec = record(figure, qtbot, 1)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install 'bpttviz\[anim\]'"):
        rec.save_gif(tmp_path / "a.gif")
    assert not (tmp_path / "a.gif").exists()


# ------------------------------------------------------------------------------ views of the app
def test_a_view_export_leaves_its_controls_out(qtbot, make_window, tmp_path, monkeypatch):
    import bpttviz.features.export as ex

    win = make_window()
    seen = []
    real = ex._image_now

    def spy(widget, scale):
        seen.append((win.graph.mode.isVisible(), win.graph.caption.isVisible()))
        return real(widget, scale)

    monkeypatch.setattr(ex, "_image_now", spy)
    export_png(win.graph, tmp_path / "graph.png")
    assert seen == [(False, True)]  # the "colour: activation" combo box is not in the picture, the caption is
    assert win.graph.mode.isVisible()  # and it is back on screen afterwards
    img = QtGui.QImage(str(tmp_path / "graph.png"))
    assert (img.width(), img.height()) == (win.graph.width(), win.graph.height())
    seen.clear()
    export_png(win, tmp_path / "window.png")  # the window is exported as it is
    assert seen == [(True, True)]


def test_svg_of_a_view_leaves_its_controls_out(qtbot, shared_window, tmp_path):
    win = shared_window
    export_svg(win.graph, tmp_path / "graph.svg")
    text = (tmp_path / "graph.svg").read_text(encoding="utf-8")
    assert "colour: activation" not in text and "timestep t" in text
    assert win.graph.mode.isVisible()


def test_decay_bound_is_never_drawn_past_the_plot(qtbot, make_window, tmp_path):
    win = make_window(size=(1366, 740))
    c = win.controller
    for _ in range(30):
        c.session.train_step()
    c.step_iteration()
    win.docks["decay"].raise_()
    qtbot.wait(30)
    c.refresh_all()
    top = win.decay.plot.getViewBox().viewRange()[1][1]
    _k, ref = win.decay.ref.getData()  # log10 values on the log axis
    assert len(ref) and np.nanmax(ref) <= top + 1e-9
    export_svg(win, tmp_path / "window.svg")
    ET.parse(tmp_path / "window.svg")  # well-formed


def test_csv_of_a_widget_without_plots_is_refused(tmp_path, qtbot):
    from bpttviz.features.export import export_csv

    label = QtWidgets.QLabel("no plot here")
    qtbot.addWidget(label)
    with pytest.raises(ValueError, match="no plotted data"):
        export_csv(label, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
