"""Figures and animations for slides: any view, or the whole window, as PNG or SVG, and a short
recording of the views as a GIF or a PNG sequence.

- ``export_png(target, path, scale=1.0)``: a raster image, optionally scaled up for print.
- ``export_svg(target, path)``: a vector image through ``QSvgGenerator`` (pyqtgraph's own
  SVGExporter fails on some paths, see docs/architecture.md), with a title, a description, and a size and
  viewBox matching the widget, tidied so that browsers, librsvg and slide tools all draw it as
  the screen shows it (see ``_paint_tree`` and ``_tidy_svg``).
- ``export_window(window, path)``: either, chosen by the suffix (``.png`` or ``.svg``).
- ``AnimationRecorder(widget, fps=10, max_frames=600)``: ``grab()`` once per frame (or
  ``start()``/``stop()`` on its own timer), then ``save_gif(path)`` (Pillow, the optional
  ``bpttviz[anim]`` extra) or ``save_png_sequence(folder)``. Frames are kept compressed and the
  recording stops by itself at ``max_frames`` or ``max_bytes``, so memory stays bounded.

``target`` is any ``QWidget``. A ``QGraphicsView`` (pyqtgraph's ``GraphicsView``, ``PlotWidget``,
``ImageView``...) on its own is rendered through its scene (what the viewport shows, without frame
or scroll bars); any other widget with all its visible children, so a window's plots come out as
vector graphics in the SVG too. pyqtgraph items are put in export mode while they are painted,
as pyqtgraph's own exporters do.

Every file is written atomically: to a temporary file in the same directory, then ``os.replace``,
so a failed export never leaves half a file where a good one was.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import os
import re
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import NamedTuple

import shiboken6
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from bpttviz.engine.atomic import atomic_write

__all__ = ["SUFFIXES", "AnimationRecorder", "export_csv", "export_png", "export_svg", "export_window"]

#: What ``export_window`` accepts.
SUFFIXES = (".png", ".svg")

PathLike = str | os.PathLike


# ---------------------------------------------------------------------------------- helpers


def _atomic_write(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (``engine.atomic``: temp file + ``os.replace``)."""
    return atomic_write(path, lambda f: f.write(data))


def _check_widget(target: object, name: str = "widget") -> QtWidgets.QWidget:
    if not isinstance(target, QtWidgets.QWidget):
        raise TypeError(f"{name}: expected a QWidget (or a pyqtgraph GraphicsView), got {type(target).__name__}")
    return target


def _settle(widget: QtWidgets.QWidget) -> None:
    """Let pending layout and scene updates happen once before rendering: pyqtgraph updates its
    view transforms and items from queued events, and a PNG rendered before the scene has processed
    them shows stale or empty plots. User input is not processed here."""
    widget.ensurePolished()
    layout = widget.layout()
    if layout is not None:
        layout.activate()
    QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)


def _size(widget: QtWidgets.QWidget) -> QtCore.QSize:
    size = widget.size()
    if size.width() <= 0 or size.height() <= 0:
        raise ValueError(f"widget: nothing to export, its size is {size.width()}×{size.height()}")
    return size


@contextlib.contextmanager
def _export_mode(widget: QtWidgets.QWidget, resolution_scale: float):
    """Tell every pyqtgraph item under ``widget`` that it is painted for export, as pyqtgraph's own
    exporters do: scatter symbols are then drawn as shapes instead of fragments of a cached pixmap
    atlas (which an SVG cannot hold and a scaled PNG would blur), and hover-only decorations such
    as the auto-range button are left out."""
    views = list(widget.findChildren(QtWidgets.QGraphicsView))
    if isinstance(widget, QtWidgets.QGraphicsView):
        views.append(widget)
    items = [item for view in views if view.scene() is not None for item in view.scene().items()
             if hasattr(item, "setExportMode")]
    opts = {"antialias": True, "resolutionScale": resolution_scale}
    for item in items:
        item.setExportMode(True, dict(opts))
    try:
        yield
    finally:
        for item in items:
            item.setExportMode(False)


#: controls left out of the picture of a single view: a figure shows the view, not its widgets
CONTROLS = (QtWidgets.QComboBox, QtWidgets.QAbstractSpinBox, QtWidgets.QAbstractButton)


@contextlib.contextmanager
def _without_controls(widget: QtWidgets.QWidget):
    """Hide the combo boxes, spin boxes and buttons inside ``widget`` (not a window: a window's
    picture is the window as it is) while it is painted; the view lays out without them."""
    hidden = []
    if not widget.isWindow():
        for w in widget.findChildren(QtWidgets.QWidget):
            if isinstance(w, CONTROLS) and w.isVisible() and not isinstance(w.parentWidget(), QtWidgets.QTabBar) \
                    and not isinstance(w.parentWidget(), QtWidgets.QAbstractSpinBox | QtWidgets.QComboBox):
                w.hide()
                hidden.append(w)
    if hidden:
        _settle(widget)
    try:
        yield
    finally:
        for w in hidden:
            w.show()
        if hidden:
            _settle(widget)


def _render(widget: QtWidgets.QWidget, painter: QtGui.QPainter, size: QtCore.QSize, scale: float = 1.0,
            vector: bool = False) -> None:
    """Paint ``widget`` at (0, 0) with ``painter`` (whose device is at least ``size`` × ``scale``).
    ``vector``: the painter is a vector device (see ``_paint_tree``)."""
    with _export_mode(widget, scale):
        if vector and not isinstance(widget, QtWidgets.QGraphicsView):
            _paint_tree(widget, painter)
        else:
            _paint(widget, painter, size)


def _paint_tree(widget: QtWidgets.QWidget, painter: QtGui.QPainter) -> None:
    """Paint ``widget`` and its visible children, each through a ``QPicture`` of itself alone.

    ``QWidget.render`` paints children through a redirection offset, and the SVG paint engine
    writes clip paths without that offset: every clipped drawing of a child widget (plot curves,
    combo-box text...) lands in the wrong place or vanishes. Recording each widget at (0, 0) and
    replaying it under an ordinary translation keeps clips and drawings in the same coordinates."""
    picture = QtGui.QPicture()
    recorder = QtGui.QPainter(picture)
    try:
        QtWidgets.QWidget.render(widget, recorder, QtCore.QPoint(0, 0), QtGui.QRegion(),
                                 QtWidgets.QWidget.RenderFlag.DrawWindowBackground)
    finally:
        recorder.end()
    painter.drawPicture(0, 0, picture)
    for child in widget.children():  # bottom to top
        if isinstance(child, QtWidgets.QWidget) and not child.isWindow() and child.isVisible():
            painter.save()
            painter.translate(QtCore.QPointF(child.pos()))
            painter.setClipRect(QtCore.QRect(0, 0, child.width(), child.height()),
                                QtCore.Qt.ClipOperation.IntersectClip)
            _paint_tree(child, painter)
            painter.restore()


def _paint(widget: QtWidgets.QWidget, painter: QtGui.QPainter, size: QtCore.QSize) -> None:
    if isinstance(widget, QtWidgets.QGraphicsView):
        # Through the scene: background, items and foreground of what the viewport shows.
        target = QtCore.QRectF(0, 0, size.width(), size.height())
        source = widget.viewport().rect()
        painter.fillRect(target, widget.backgroundBrush() if widget.backgroundBrush().style()
                         != QtCore.Qt.BrushStyle.NoBrush else widget.palette().window())
        QtWidgets.QGraphicsView.render(widget, painter, target, source,
                                       QtCore.Qt.AspectRatioMode.IgnoreAspectRatio)
    else:
        flags = (QtWidgets.QWidget.RenderFlag.DrawWindowBackground
                 | QtWidgets.QWidget.RenderFlag.DrawChildren)
        QtWidgets.QWidget.render(widget, painter, QtCore.QPoint(0, 0), QtGui.QRegion(), flags)


def _dpm(dpi: float) -> int:
    """Dots per metre for a resolution in dots per inch."""
    return round(dpi / 0.0254)


def _image(widget: QtWidgets.QWidget, scale: float) -> QtGui.QImage:
    with _without_controls(widget):
        return _image_now(widget, scale)


def _image_now(widget: QtWidgets.QWidget, scale: float) -> QtGui.QImage:
    _settle(widget)
    size = _size(widget)
    w, h = math.ceil(size.width() * scale), math.ceil(size.height() * scale)
    image = QtGui.QImage(w, h, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    # Same logical DPI as the widget, so point-sized fonts lay out as on screen.
    image.setDotsPerMeterX(_dpm(widget.logicalDpiX()))
    image.setDotsPerMeterY(_dpm(widget.logicalDpiY()))
    image.fill(widget.palette().window().color())
    painter = QtGui.QPainter(image)
    try:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
        painter.scale(scale, scale)
        _render(widget, painter, size, scale)
    finally:
        painter.end()
    return image


def _png_bytes(image: QtGui.QImage, quality: int = -1) -> bytes:
    data = QtCore.QByteArray()
    buf = QtCore.QBuffer(data)
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    ok = image.save(buf, "PNG", quality)
    buf.close()
    if not ok:
        raise OSError("could not encode the image as PNG")
    return bytes(data)


# ---------------------------------------------------------------------------------- still images


def export_png(target: QtWidgets.QWidget, path: PathLike, scale: float = 1.0) -> Path:
    """Render ``target`` (a widget, a pyqtgraph ``GraphicsView``/``PlotWidget``, or a window) to a
    PNG file of ``scale`` × its size in pixels (e.g. 2.0 for print). Returns the path written."""
    widget = _check_widget(target)
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale: expected a number > 0, got {scale!r}") from None
    if not math.isfinite(scale) or scale <= 0 or scale > 16:
        raise ValueError(f"scale: expected a number in (0, 16], got {scale!r}")
    return _atomic_write(path, _png_bytes(_image(widget, scale)))


def export_svg(target: QtWidgets.QWidget, path: PathLike, title: str | None = None,
               description: str | None = None) -> Path:
    """Render ``target`` to an SVG file through ``QSvgGenerator``: vector lines and text, images
    (heatmaps) embedded as PNG data, ``width``/``height`` and a ``viewBox`` of the widget's size
    in pixels. ``title`` defaults to the window title, ``description`` to a line naming the app."""
    widget = _check_widget(target)
    with _without_controls(widget):
        return _export_svg_now(widget, path, title, description)


def _export_svg_now(widget: QtWidgets.QWidget, path: PathLike, title: str | None,
                    description: str | None) -> Path:
    _settle(widget)
    size = _size(widget)
    data = QtCore.QByteArray()
    buf = QtCore.QBuffer(data)
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    # SVG 1.1 rather than the default SVG Tiny 1.2: only 1.1 output keeps clip paths, without which
    # plot curves run out of their axes.
    gen = QtSvg.QSvgGenerator(QtSvg.QSvgGenerator.SvgVersion.Svg11)
    gen.setOutputDevice(buf)
    gen.setSize(size)
    gen.setViewBox(QtCore.QRect(0, 0, size.width(), size.height()))
    # The widget's own DPI: fonts sized in points keep their on-screen size relative to the layout.
    gen.setResolution(round(widget.logicalDpiX()))
    gen.setTitle(title if title is not None else (widget.window().windowTitle() or "bpttviz figure"))
    gen.setDescription(description if description is not None
                       else "Exported from bpttviz, a visualiser of backpropagation through time.")
    painter = QtGui.QPainter()
    if not painter.begin(gen):
        buf.close()
        raise OSError("could not start the SVG generator")
    try:
        _render(widget, painter, size, vector=True)
    finally:
        painter.end()
        buf.close()
    return _atomic_write(path, _tidy_svg(bytes(data), size))


# ---------------------------------------------------------------------------------- SVG clean-up

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
_MATRIX = re.compile(r"\s*matrix\(([^)]*)\)\s*")
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = re.compile(rf"({_NUM}),({_NUM})")


def _tidy_svg(svg: bytes, size: QtCore.QSize) -> bytes:
    """Make QSvgGenerator's output render the same in every viewer.

    - The size is stated in pixels (the generator writes millimetres via its resolution, which
      viewers convert back at their own DPI).
    - Plot lines are drawn with cosmetic pens under the plot's data-to-pixel transform, which the
      generator writes as ``transform="matrix(...)"`` plus ``vector-effect="non-scaling-stroke"``.
      Viewers without that effect (librsvg, several slide tools) scale the stroke by the data
      transform and draw huge blobs; so the transform is applied to the coordinates instead.
    - Heatmaps are tiny images stretched over many pixels; viewers that ignore
      ``image-rendering`` smooth them and the cells of a delta matrix blur into each other, so
      such images are enlarged with nearest-neighbour sampling before they are embedded.
    - Empty paths (which some viewers report as errors) are dropped.
    """
    ET.register_namespace("", _SVG_NS)
    ET.register_namespace("xlink", _XLINK_NS)
    root = ET.fromstring(svg)
    root.set("width", f"{size.width()}px")
    root.set("height", f"{size.height()}px")
    geometry = {f"{{{_SVG_NS}}}path": "d", f"{{{_SVG_NS}}}polyline": "points"}
    for parent in list(root.iter()):
        for k in list(parent):
            if k.tag in geometry and not k.get(geometry[k.tag], "").strip():
                parent.remove(k)
    for clip in root.iter(f"{{{_SVG_NS}}}clipPath"):  # a clip has no stroke to keep thin
        for k in clip:
            k.attrib.pop("vector-effect", None)
    for group in root.iter(f"{{{_SVG_NS}}}g"):
        m = _MATRIX.fullmatch(group.get("transform", ""))
        for image in group.findall(f"{{{_SVG_NS}}}image"):
            _sharpen(image, m)
        if m is None:  # the effect is moot without a transform
            for k in group:
                k.attrib.pop("vector-effect", None)
        kids = list(group)
        if m is None or not kids or any(k.tag not in geometry for k in kids):
            continue
        if not any(k.get("vector-effect") == "non-scaling-stroke" for k in kids):
            continue
        if "url(" in group.get("fill", "") + group.get("stroke", ""):
            continue  # a gradient's coordinates live in the transformed space
        try:
            a, b, c, d, e, f = (float(v) for v in m.group(1).replace(" ", ",").split(",") if v)
        except ValueError:
            continue

        def mapped(match: re.Match, a=a, b=b, c=c, d=d, e=e, f=f) -> str:
            x, y = float(match.group(1)), float(match.group(2))
            return f"{_short(a * x + c * y + e)},{_short(b * x + d * y + f)}"

        for k in kids:
            attr = geometry[k.tag]
            k.set(attr, _PAIR.sub(mapped, k.get(attr, "")))
            k.attrib.pop("vector-effect", None)
        del group.attrib["transform"]
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _sharpen(image: ET.Element, matrix: re.Match | None, longest: int = 2048) -> None:
    """Enlarge an embedded image meant to be drawn unsmoothed (``image-rendering="optimizeSpeed"``,
    what Qt writes for a heatmap) by a whole factor, nearest-neighbour, to about twice the size it
    is displayed at (at most ``longest`` pixels a side)."""
    if image.get("image-rendering") != "optimizeSpeed":
        return
    key = f"{{{_XLINK_NS}}}href" if f"{{{_XLINK_NS}}}href" in image.attrib else "href"
    href = image.get(key, "")
    prefix = "data:image/png;base64,"
    if not href.startswith(prefix):
        return
    sx = sy = 1.0
    if matrix is not None:
        try:
            a, b, c, d, _e, _f = (float(v) for v in matrix.group(1).replace(" ", ",").split(",") if v)
        except ValueError:
            return
        sx, sy = math.hypot(a, b), math.hypot(c, d)
    picture = QtGui.QImage()
    if not picture.loadFromData(base64.b64decode(href[len(prefix):]), "PNG") or picture.isNull():
        return
    w, h = picture.width(), picture.height()
    try:
        shown_w, shown_h = float(image.get("width", w)) * sx, float(image.get("height", h)) * sy
    except ValueError:
        return
    stretch = max(shown_w / w, shown_h / h)
    k = min(longest // max(w, h), math.ceil(2 * stretch))
    if stretch < 1.5 or k < 2:
        return
    big = picture.scaled(w * k, h * k, QtCore.Qt.AspectRatioMode.IgnoreAspectRatio,
                         QtCore.Qt.TransformationMode.FastTransformation)
    image.set(key, prefix + base64.b64encode(_png_bytes(big)).decode("ascii"))
    image.set("style", "image-rendering:pixelated")


def _short(v: float) -> str:
    """A coordinate to a thousandth of a pixel, without trailing zeros."""
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def export_window(window: QtWidgets.QWidget, path: PathLike) -> Path:
    """Export ``window`` (or any view) as PNG or SVG, chosen by the suffix of ``path``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return export_png(window, path)
    if suffix == ".svg":
        return export_svg(window, path)
    raise ValueError(f"path: cannot export to {str(path)!r}; allowed suffixes: {', '.join(SUFFIXES)}")


def export_csv(target: QtWidgets.QWidget, path: PathLike) -> Path:
    """Write the data of every plot inside ``target`` as CSV: one row per point of each curve
    (``plot, series, x, y``) and per cell of each heatmap (``plot, image, row, column, value``)."""
    from bpttviz.views.plot_tools import plot_csv

    widget = _check_widget(target)
    text = plot_csv(widget)
    if text.count("\n") <= 1:
        raise ValueError("view: it has no plotted data to save as CSV")
    return _atomic_write(path, text.encode("utf-8"))


# ---------------------------------------------------------------------------------- animations

class _Frame(NamedTuple):
    """One recorded frame: RGB888 rows (``stride`` bytes each), zlib-compressed."""

    width: int
    height: int
    stride: int
    data: bytes


_PILLOW_MISSING = ("Saving a GIF needs Pillow, an optional dependency: pip install 'bpttviz[anim]' "
                   "(or save the frames as a PNG sequence instead)")


class AnimationRecorder:
    """Record frames of ``widget`` for a GIF or a PNG sequence.

    ``grab()`` takes one frame (call it from the paint timer, or use ``start()``/``stop()``, which
    grab every ``1/fps`` seconds on a timer). ``downscale`` in (0, 1] shrinks each frame as it is
    taken. Frames are kept zlib-compressed in memory (a 1280×800 window: about 0.2 MB and 7 ms a
    frame); recording stops by itself (``full`` becomes True and ``grab`` returns False) at
    ``max_frames`` frames or ``max_bytes`` of compressed data.
    """

    def __init__(self, widget: QtWidgets.QWidget, fps: float = 10, max_frames: int = 600, *,
                 downscale: float = 1.0, max_bytes: int = 256 * 2**20) -> None:
        self.widget = _check_widget(widget)
        try:
            fps = float(fps)
        except (TypeError, ValueError):
            raise ValueError(f"fps: expected a number in (0, 100], got {fps!r}") from None
        if not math.isfinite(fps) or not 0 < fps <= 100:
            raise ValueError(f"fps: expected a number in (0, 100], got {fps!r}")
        if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
            raise ValueError(f"max_frames: expected a positive integer, got {max_frames!r}")
        try:
            downscale = float(downscale)
        except (TypeError, ValueError):
            raise ValueError(f"downscale: expected a number in (0, 1], got {downscale!r}") from None
        if not math.isfinite(downscale) or not 0 < downscale <= 1:
            raise ValueError(f"downscale: expected a number in (0, 1], got {downscale!r}")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes: expected a positive integer, got {max_bytes!r}")
        self.fps, self.max_frames, self.downscale, self.max_bytes = fps, max_frames, downscale, max_bytes
        self._frames: list[_Frame] = []
        self._bytes = 0
        self.full = False
        self._timer: QtCore.QTimer | None = None

    # -------------------------------------------------------------- recording
    def __len__(self) -> int:
        return len(self._frames)

    @property
    def nbytes(self) -> int:
        """Memory held by the compressed frames."""
        return self._bytes

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the first frame, which the GIF uses for every frame."""
        return (self._frames[0].width, self._frames[0].height) if self._frames else None

    @property
    def recording(self) -> bool:
        return self._timer is not None and self._timer.isActive()

    def grab(self) -> bool:
        """Take one frame of the widget as it is now. Returns False (and takes nothing) when full."""
        if self.full or len(self._frames) >= self.max_frames:
            self._stop_full()
            return False
        if not shiboken6.isValid(self.widget):  # the window was closed while recording
            self.stop()
            return False
        image = self.widget.grab().toImage()
        if image.isNull():
            raise ValueError("widget: nothing to record, it has no size")
        if self.downscale < 1:
            w = max(1, round(image.width() * self.downscale))
            h = max(1, round(image.height() * self.downscale))
            image = image.scaled(w, h, QtCore.Qt.AspectRatioMode.IgnoreAspectRatio,
                                 QtCore.Qt.TransformationMode.SmoothTransformation)
        image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
        # zlib level 1 on the raw rows: several times faster than PNG encoding and as small for
        # a user interface's flat colours.
        frame = _Frame(image.width(), image.height(), image.bytesPerLine(),
                       zlib.compress(bytes(image.constBits()), 1))
        if self._bytes + len(frame.data) > self.max_bytes:
            self._stop_full()
            return False
        self._frames.append(frame)
        self._bytes += len(frame.data)
        if len(self._frames) >= self.max_frames:
            self._stop_full()
        return True

    def start(self) -> None:
        """Grab a frame now and then every ``1/fps`` seconds until ``stop()`` or full."""
        if self._timer is None:
            self._timer = QtCore.QTimer()
            self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
            self._timer.timeout.connect(self.grab)
        self._timer.setInterval(round(1000 / self.fps))
        if self.grab():
            self._timer.start()

    def stop(self) -> None:
        """Stop grabbing on the timer (the frames are kept)."""
        if self._timer is not None:
            self._timer.stop()

    def clear(self) -> None:
        """Drop every frame and start afresh."""
        self.stop()
        self._frames.clear()
        self._bytes = 0
        self.full = False

    def _stop_full(self) -> None:
        self.full = True
        self.stop()

    def frame(self, i: int) -> QtGui.QImage:
        """Frame ``i`` as a ``QImage`` (RGB888)."""
        f = self._frames[i]
        raw = zlib.decompress(f.data)
        return QtGui.QImage(raw, f.width, f.height, f.stride, QtGui.QImage.Format.Format_RGB888).copy()

    # -------------------------------------------------------------- saving
    def _require_frames(self) -> None:
        if not self._frames:
            raise ValueError("nothing recorded yet: grab() at least one frame first")

    def save_gif(self, path: PathLike, loop: int = 0) -> Path:
        """Write the frames as an animated GIF at ``fps`` (``loop=0``: repeat forever). Frames are
        quantised to 256 colours each; a frame of another size is resized to the first one's;
        identical consecutive frames are merged into one longer frame by the GIF writer."""
        self._require_frames()
        try:
            from PIL import Image
        except ImportError:
            raise ImportError(_PILLOW_MISSING) from None
        size = self.frame_size
        images = []
        for f in self._frames:
            im = Image.frombuffer("RGB", (f.width, f.height), zlib.decompress(f.data), "raw", "RGB", f.stride, 1)
            if im.size != size:
                im = im.resize(size, Image.Resampling.LANCZOS)
            images.append(im)
        out = io.BytesIO()
        images[0].save(out, format="GIF", save_all=True, append_images=images[1:],
                       duration=max(20, round(1000 / self.fps)), loop=loop, disposal=1)
        return _atomic_write(path, out.getvalue())

    def save_png_sequence(self, folder: PathLike, prefix: str = "frame") -> list[Path]:
        """Write ``folder/<prefix>_0000.png``, ``_0001.png``... (the folder is created if needed;
        files of the same names are replaced). Returns the paths, in order."""
        self._require_frames()
        if not prefix or any(c in prefix for c in "/\\\0"):
            raise ValueError(f"prefix: expected a plain file-name prefix, got {prefix!r}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        digits = max(4, len(str(len(self._frames) - 1)))
        return [_atomic_write(folder / f"{prefix}_{i:0{digits}d}.png", _png_bytes(self.frame(i)))
                for i in range(len(self._frames))]
