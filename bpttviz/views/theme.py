"""Colours, colour maps, fonts and pens: one place that decides how the app looks.

The palette is Okabe & Ito's (2008) colour-blind-safe set. Signed quantities (deltas, gradients,
weights) use a diverging map with symmetric levels; magnitudes use a sequential map. Views never
pick colours themselves: they read them from the ``Theme`` they are given, so lecture mode (a
larger, lighter theme) and zoom are a change of one object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

# Okabe-Ito
BLACK = "#000000"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"

#: diverging maps: name -> (negative end, middle, positive end) and the stops between
_DIVERGING = {
    # ColorBrewer RdBu, reversed so that negative is blue and positive red
    "blue-red": ["#2166AC", "#4393C3", "#92C5DE", "#D1E5F0", "#F7F7F7",
                 "#FDDBC7", "#F4A582", "#D6604D", "#B2182B"],
    # ColorBrewer PuOr: distinguishable under the common colour-vision deficiencies
    "purple-orange (colour-blind safe)": ["#542788", "#8073AC", "#B2ABD2", "#D8DAEB", "#F7F7F7",
                                          "#FEE0B6", "#FDB863", "#E08214", "#B35806"],
}
DIVERGING_NAMES = tuple(_DIVERGING)


def _hex(c: str) -> tuple[int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


def diverging_map(name: str) -> pg.ColorMap:
    """A diverging colour map (white at zero) for signed data shown with levels ``(-m, m)``."""
    stops = _DIVERGING.get(name, _DIVERGING["blue-red"])
    pos = np.linspace(0.0, 1.0, len(stops))
    return pg.ColorMap(pos, [_hex(c) for c in stops], name=name)


def magnitude_map() -> pg.ColorMap:
    """A sequential map for magnitudes in [0, 1]: cividis, readable for every colour vision."""
    return pg.colormap.get("cividis")


def platform_points() -> float:
    """The platform's default UI font size in points (10 when no application is running yet)."""
    app = QtWidgets.QApplication.instance()
    size = app.font().pointSizeF() if app is not None else -1.0
    return size if size > 0 else 10.0


@dataclass(frozen=True)
class Theme:
    """How the app looks. ``scale`` multiplies every font size (zoom, lecture mode)."""

    background: str = "#FBFBF8"
    panel: str = "#F0F0EC"
    foreground: str = "#2B2B2B"
    muted: str = "#8A8A8A"
    grid_alpha: float = 0.15
    forward: str = BLUE
    backward: str = VERMILLION
    highlight: str = ORANGE
    nonfinite: str = PURPLE  # NaN/Inf nodes: never the highlight's or the backward pass's orange
    accent: str = GREEN
    diverging: str = "blue-red"
    base_points: float = 10.0
    scale: float = 1.0
    line_width: float = 2.0
    line_scale: float = 1.0  # multiplies every pen width (lecture mode: thicker lines)
    #: no font is smaller than this share of the body text: smaller "secondary" sizes (tick
    #: labels, notes) would fall under the platform's UI font, and under the back row's reach
    min_factor: float = 1.0

    def points(self, factor: float = 1.0) -> float:
        """A font size in points, scaled by zoom (never below ``min_factor`` of the body text)."""
        return max(5.0, self.base_points * self.scale * max(factor, self.min_factor))

    def font(self, factor: float = 1.0, bold: bool = False, mono: bool = False) -> QtGui.QFont:
        f = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont) if mono else QtGui.QFont()
        f.setPointSizeF(self.points(factor))
        f.setBold(bold)
        return f

    def pen(self, color: str, width: float | None = None, style=None, alpha: int = 255,
            opaque: bool = False) -> QtGui.QPen:
        """A cosmetic pen; ``opaque`` blends ``alpha`` with the background instead (same look on
        the background, much cheaper to draw for wide lines)."""
        c = QtGui.QColor(color)
        if opaque and alpha < 255:
            bg = QtGui.QColor(self.background)
            a = alpha / 255
            c = QtGui.QColor(round(c.red() * a + bg.red() * (1 - a)), round(c.green() * a + bg.green() * (1 - a)),
                             round(c.blue() * a + bg.blue() * (1 - a)))
        else:
            c.setAlpha(alpha)
        p = pg.mkPen(c, width=(self.line_width if width is None else width) * self.line_scale)
        if style is not None:
            p.setStyle(style)
        return p

    def pixels(self, factor: float = 1.0) -> int:
        """The pixel height of ``font(factor)`` on this screen."""
        return QtGui.QFontInfo(self.font(factor)).pixelSize()

    def cmap(self) -> pg.ColorMap:
        return diverging_map(self.diverging)

    def with_(self, **changes) -> Theme:
        return replace(self, **changes)


def default_theme() -> Theme:
    """The normal theme, its body text never smaller than the platform's UI font."""
    return Theme(base_points=max(Theme.base_points, platform_points()))


class LabelHolder(QtWidgets.QWidget):
    """Holds one label at its own size, outside any layout. A label whose width and height are
    both fixed changes its text without asking the window to lay itself out again (a new caption
    every frame while training otherwise relayouts every dock); the holder takes the layout's
    width and passes it on (``resized`` then tells the owner, e.g. to cut a one-line caption
    anew). Hiding the label hides the holder."""

    resized = QtCore.Signal()

    def __init__(self, label: QtWidgets.QLabel) -> None:
        super().__init__()
        self.label = label
        label.setParent(self)
        label.move(0, 0)
        label.installEventFilter(self)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QtCore.QSize:  # what the label would ask for; it may shrink to nothing
        return QtCore.QSize(self.label.sizeHint().width(), self.height())

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(1, self.height())

    def set_height(self, h: int) -> None:
        if (self.minimumHeight(), self.maximumHeight(), self.label.minimumHeight(),
                self.label.maximumHeight()) != (h, h, h, h):
            self.setFixedHeight(h)
            self.label.setFixedHeight(h)

    def fit(self, min_height: int = 0, steady: bool = False) -> None:
        """As high as the (word-wrapped) label's text needs at the holder's width, at least
        ``min_height``: the window lays itself out again only when that changes, not for every
        new text (call it after ``label.setText``; the holder calls it on a resize). ``steady``:
        only grow while the width stays (a caption that alternates between two and three lines
        then lays the window out once, not at every change)."""
        self._min_height, self._steady = min_height, steady
        w = self.width()
        h = max(min_height, self.needed_height(w))
        if steady and getattr(self, "_fit_width", None) == w:
            h = max(h, self.height())
        self._fit_width = w
        self.set_height(h)

    def needed_height(self, width: int) -> int:
        """The height the label's (plain, word-wrapped) text needs at ``width`` pixels.
        (``QLabel.heightForWidth`` would not do: it never answers less than the label's fixed
        height.)"""
        lab = self.label
        if not lab.wordWrap() or width <= 1:
            return lab.sizeHint().height()
        m = lab.contentsMargins()
        inner = max(1, width - m.left() - m.right() - 2 * lab.margin())
        flags = int(QtCore.Qt.TextFlag.TextWordWrap) | int(lab.alignment())
        r = lab.fontMetrics().boundingRect(QtCore.QRect(0, 0, inner, 1_000_000), flags, lab.text())
        return r.height() + m.top() + m.bottom() + 2 * lab.margin()

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        self.label.setFixedWidth(max(1, self.width()))
        if ev.size().width() != ev.oldSize().width() and getattr(self, "_min_height", None) is not None:
            self.fit(self._min_height, self._steady)  # (a new width: the exact height again)
        self.resized.emit()

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        t = ev.type()
        if t == QtCore.QEvent.Type.Hide and not obj.isVisible() and self.isVisible():
            self.hide()
        elif t == QtCore.QEvent.Type.Show and not self.isVisible():
            self.show()
        return False


class ElidedLabel(QtWidgets.QLabel):
    """A one-line label that takes the width it is given (never asking for more) and cuts its
    text there with "…"; the whole text is in ``full_text()`` and the tooltip. For a field that
    shares a line with others (the status bar), where a long text must not overlap its
    neighbours or push them away."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._full = ""
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        self.set_full_text(text)

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def _elide(self) -> None:
        m = self.contentsMargins()
        room = max(0, self.width() - m.left() - m.right())
        shown = self.fontMetrics().elidedText(self._full, QtCore.Qt.TextElideMode.ElideRight, room)
        if shown != self.text():
            self.setText(shown)

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        self._elide()

    def changeEvent(self, ev: QtCore.QEvent) -> None:
        super().changeEvent(ev)
        if ev.type() == QtCore.QEvent.Type.FontChange:
            self._elide()


class _Unfix(QtCore.QObject):
    """Lets a label ``fit_fixed`` made fixed size again take any size when its font changes (a
    theme, lecture mode): the next ``fit_fixed`` then fits the new font."""

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        if ev.type() == QtCore.QEvent.Type.FontChange and isinstance(obj, QtWidgets.QLabel):
            obj.setMinimumSize(0, 0)
            obj.setMaximumSize(16777215, 16777215)  # (QWIDGETSIZE_MAX)
        return False


_UNFIX: _Unfix | None = None


def fit_fixed(label: QtWidgets.QLabel) -> None:
    """Fix ``label``'s size at what its text needs, growing only (until its font changes). A
    label whose width and height are both fixed changes its text without the window laying
    itself out (and repainting) again; a status field that changes while training otherwise does
    that ten times a second."""
    global _UNFIX
    if not getattr(label, "_bpttviz_fitted", False):
        if _UNFIX is None:
            _UNFIX = _Unfix()
        label.installEventFilter(_UNFIX)
        label._bpttviz_fitted = True
    hint = label.sizeHint()
    w, h = max(label.minimumWidth(), hint.width()), max(label.minimumHeight(), hint.height())
    if (label.minimumWidth(), label.maximumWidth(), label.minimumHeight(), label.maximumHeight()) != (w, w, h, h):
        label.setFixedSize(w, h)


def style_plot(plot: pg.PlotItem, theme: Theme, *, title: str | None = None) -> None:
    """Apply the theme's fonts and colours to a PlotItem's axes and title (a no-op when nothing
    changed: restyling invalidates every axis picture, which is what painting costs)."""
    labels = tuple((n, plot.getAxis(n).labelText) for n in ("left", "bottom", "right", "top"))
    sig = (theme, plot.titleLabel.text if title is None else title, labels)
    before = getattr(plot, "_bpttviz_style", None)
    if before == sig:
        return
    if before is not None and before[0] == theme and before[2] == labels:
        # only the title's text changed (a live title): the axes keep their style and pictures
        if before[1] and sig[1] and plot.titleLabel.isVisible():
            # the label's text alone: PlotItem.setTitle would first reset the title row to
            # pyqtgraph's 30 px, a new layout of the plot (``shrinkable`` sizes the row)
            plot.titleLabel.setText(sig[1], color=theme.foreground, size=f"{theme.points(1.0):.1f}pt")
        else:
            plot.setTitle(sig[1] or None, color=theme.foreground, size=f"{theme.points(1.0):.1f}pt")
        plot._bpttviz_style = sig
        return
    tick_font = theme.font(0.9)
    label_css = {"color": theme.foreground, "font-size": f"{theme.points(0.95):.1f}pt"}
    for name in ("left", "bottom", "right", "top"):
        ax = plot.getAxis(name)
        ax.setPen(pg.mkPen(theme.muted))
        ax.setTextPen(pg.mkPen(theme.foreground))
        ax.setStyle(tickFont=tick_font, tickTextOffset=max(3, int(4 * theme.scale)))
        ax.enableAutoSIPrefix(False)
        # a pixmap per axis: repainting the plot then blits it instead of replaying its picture
        ax.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        no_overlaps(ax)
        if name in ("left", "right"):
            ax.setTickDensity(0.7)  # plots in docks are short: fewer, readable labels
        if ax.labelText or ax.labelUnits:
            ax.setLabel(ax.labelText, units=ax.labelUnits or None, **label_css)
    if title is not None:
        plot.setTitle(title or None, color=theme.foreground, size=f"{theme.points(1.0):.1f}pt")
    elif plot.titleLabel.text:
        plot.setTitle(plot.titleLabel.text, color=theme.foreground, size=f"{theme.points(1.0):.1f}pt")
    shrinkable(plot.titleLabel)
    span_title(plot)
    plot.titleLabel.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
    plot._bpttviz_style = (theme, plot.titleLabel.text if title is None else title,
                           tuple((n, plot.getAxis(n).labelText) for n in ("left", "bottom", "right", "top")))


def _spaced_specs(axis: pg.AxisItem, p: QtGui.QPainter):
    """``AxisItem.generateDrawSpecs`` without tick labels that would touch another one: explicit
    ticks are all drawn by pyqtgraph, however short the axis; here each label keeps a gap to
    the last one kept (a third of its height across, a twentieth up an axis: pyqtgraph's text
    boxes are already a little taller than the letters)."""
    specs = pg.AxisItem.generateDrawSpecs(axis, p)
    if specs is None:
        return specs
    axis_spec, tick_specs, text_specs = specs
    kept: list = []
    for spec in text_specs:
        r = QtCore.QRectF(spec[0])
        gap_x = r.height() * 0.3 if axis.orientation in ("top", "bottom") else 0.0
        gap_y = r.height() * 0.05 if axis.orientation in ("left", "right") else 0.0
        grown = r.adjusted(-gap_x, -gap_y, gap_x, gap_y)
        if any(grown.intersects(QtCore.QRectF(k[0])) for k in kept):
            continue
        kept.append(spec)
    return axis_spec, tick_specs, kept


def no_overlaps(axis: pg.AxisItem) -> None:
    """Make ``axis`` leave out a tick label that would overlap another (see ``_spaced_specs``)."""
    if getattr(axis, "_bpttviz_spaced", False):
        return
    axis._bpttviz_spaced = True
    axis.generateDrawSpecs = lambda p, axis=axis: _spaced_specs(axis, p)


def set_ticks(axis: pg.AxisItem, ticks: list[tuple[float, str]] | None) -> None:
    """``axis.setTicks`` only when the ticks differ (setting them repaints the axis)."""
    if getattr(axis, "_bpttviz_ticks", "unset") == ticks:
        return
    axis._bpttviz_ticks = ticks
    axis.setTicks(None if ticks is None else [ticks])


def log_curves(*items: pg.PlotDataItem) -> None:
    """Curves of a log-y plot: no dynamic range limit. Their display data are log10 values, never
    millions of view heights away, and with a limit every curve recomputes its display data
    whenever the y range changes (most of a redraw's cost in a plot of many curves)."""
    for it in items:
        it.setDynamicRangeLimit(None)


def fix_axis_width(plot: pg.PlotItem, theme: Theme, side: str = "left", widest: str = "1e-100") -> None:
    """Give a plot's vertical axis a fixed width: its widest possible tick label (``widest``, at
    the theme's tick font) and its label line. An axis that fits its width to the tick labels of
    the moment lays the whole plot out again (and repaints all of it) whenever a label gets
    wider or narrower, e.g. on a log axis, from "0.01" to "1e-45"."""
    ax = plot.getAxis(side)
    fm = QtGui.QFontMetrics(theme.font(0.9))
    label = QtGui.QFontMetrics(theme.font(0.95)).height() if ax.labelText else 0
    width = fm.horizontalAdvance(widest) + max(3, int(4 * theme.scale)) + label + 6
    if ax.fixedWidth != width:
        ax.setWidth(width)


def redraw_last(view) -> None:
    """Show ``view.frame`` again (a resize: as many tick labels as the new size holds). Runs from a
    timer, outside the controller's guarded paint, so an exception goes to ``view.redraw_failed``
    (the window reports it like any drawing error) and the frame is dropped, not retried."""
    if view.frame is None:
        return
    try:
        view.show_frame(view.frame)
    except Exception as e:  # noqa: BLE001 - one broken view must not take the app down
        view.frame = None
        view.redraw_failed.emit(e)


def shrinkable(label: pg.LabelItem) -> None:
    """Let a LabelItem be narrower than its text: pyqtgraph makes the text width the label's
    minimum, so one long title would force its plot wider than the dock (and stay so)."""
    if getattr(label, "_bpttviz_shrinkable", False):
        return

    def update_min() -> None:
        # deferred by a timer: the plot (and its label) may be gone by the time it runs
        if not (shiboken6.isValid(label) and shiboken6.isValid(label.item)):
            return
        h = label.itemRect().height()
        width = label.size().width()
        if getattr(label, "_bpttviz_steady", False) and getattr(label, "_bpttviz_w", None) == width:
            h = max(h, getattr(label, "_bpttviz_h", 0) or 0)  # (see steady_title)
        label._bpttviz_w = width
        if getattr(label, "_bpttviz_h", None) == h:
            return  # (a new text of the same height: nothing to lay out again)
        label._bpttviz_h = h
        label.setMinimumWidth(1)
        label.setMinimumHeight(h)
        label.setMaximumHeight(h)
        plot = label.parentItem()
        if isinstance(plot, pg.PlotItem) and plot.titleLabel is label and label.isVisible():
            plot.layout.setRowFixedHeight(0, h)  # pyqtgraph fixes the title row at 30 px
        label._sizeHint = {
            QtCore.Qt.SizeHint.MinimumSize: (1, h),
            QtCore.Qt.SizeHint.PreferredSize: (1, h),
            QtCore.Qt.SizeHint.MaximumSize: (-1, -1),
            QtCore.Qt.SizeHint.MinimumDescent: (0, 0),
        }
        label.updateGeometry()

    def resize_event(ev, original=label.resizeEvent) -> None:
        # wrap at the label's width (a legend in a title runs onto a second line instead of out
        # of the plot); the wrapped height becomes the label's minimum
        w = max(20.0, label.size().width())  # (pyqtgraph calls this with None after a new text)
        if abs(label.item.textWidth() - w) > 0.5:
            label.item.setTextWidth(w)
            QtCore.QTimer.singleShot(0, update_min)
        original(ev)

    label.updateMin = update_min
    label.resizeEvent = resize_event
    label.opts["justify"] = "left"  # clipped on the right, never on both sides
    label._bpttviz_shrinkable = True
    update_min()


def steady_title(plot: pg.PlotItem) -> None:
    """Let the plot's title row only grow while the plot keeps its width: a title whose text
    alternates between one and two lines (a legend that changes as a what-if starts and ends)
    then does not lay the plot out again, and repaint all of it, each time."""
    plot.titleLabel._bpttviz_steady = True


def span_title(plot: pg.PlotItem) -> None:
    """Let the title use the plot's whole width (axes and colour bar included), not only the
    data column: a short plot's title then fits on one line."""
    if getattr(plot, "_bpttviz_spanned", False):
        return
    plot._bpttviz_spanned = True
    lay = plot.layout
    lay.removeItem(plot.titleLabel)
    lay.addItem(plot.titleLabel, 0, 0, 1, max(3, lay.columnCount()))


def set_axis_label(plot: pg.PlotItem, side: str, text: str, theme: Theme) -> None:
    ax = plot.getAxis(side)
    if getattr(ax, "_bpttviz_label", None) == (text, theme):
        return
    ax._bpttviz_label = (text, theme)
    plot.setLabel(side, text, color=theme.foreground, **{"font-size": f"{theme.points(0.95):.1f}pt"})


def legend_html(entries: list[tuple[str, str, str]], theme: Theme, title: str = "") -> str:
    """A one-line legend as rich text for a plot title: (label, colour, "line"/"dash"/"dot") each."""
    marks = {"line": "━━", "dash": "╍╍", "dot": "┈┈", "faint": "──"}
    # an entry never breaks; the legend wraps between entries when the plot is narrow
    parts = [f'<span style="color:{c}{"; opacity:0.4" if kind == "faint" else ""}">{marks.get(kind, "━━")}</span>'
             f'&nbsp;{label.replace(" ", "&nbsp;")}' for label, c, kind in entries]
    head = f"{title}&nbsp;&nbsp; " if title else ""
    return head + "&nbsp;&nbsp; ".join(parts)


def set_log_ticks(plot: pg.PlotItem, side: str = "left") -> None:
    """On a log axis, label the decades only: minor labels collide in small plots."""
    plot.getAxis(side).setStyle(maxTextLevel=0)


def _num(v: float) -> str:
    if 1e-3 <= v < 1e4:
        return f"{v:g}"
    e = int(np.floor(np.log10(v)))
    m = v / 10**e
    return f"1e{e}" if abs(m - 1) < 1e-9 else f"{m:g}e{e}"


def tick_room(plot: pg.PlotItem, side: str = "left", fallback: int = 5) -> int:
    """How many tick labels fit along ``side`` of ``plot`` as it is sized now: one per two and a
    half text heights up an axis, one per five across (``fallback`` before the plot is laid out),
    never fewer than three."""
    vb = plot.getViewBox()
    length = vb.height() if side in ("left", "right") else vb.width()
    if length < 20:
        return fallback
    font = plot.getAxis(side).style.get("tickFont")
    px = QtGui.QFontInfo(font).pixelSize() if font is not None else 12
    return max(3, min(8, int(length / ((2.5 if side in ("left", "right") else 4.0) * px))))


def inner_range(plot: pg.PlotItem, side: str = "left") -> tuple[float, float]:
    """The view range along ``side`` less the ends where a tick label would stick out of the
    axis (pyqtgraph leaves such labels out): 0.7 text heights up an axis, 1.3 across (half a
    label of up to four digits)."""
    vb = plot.getViewBox()
    (xa, xb), (ya, yb) = vb.viewRange()
    a, b, length = (ya, yb, vb.height()) if side in ("left", "right") else (xa, xb, vb.width())
    font = plot.getAxis(side).style.get("tickFont")
    px = QtGui.QFontInfo(font).pixelSize() if font is not None else 12
    if length < 20:
        return a, b
    m = (0.7 if side in ("left", "right") else 1.3) * px / length * (b - a)
    return (a + m, b - m) if b - a > 2 * m else (a, b)


#: log-axis tick candidates, roundest first: decades, then 1-2-5 steps, then the other mantissas
_MANTISSAS = ((1,), (5,), (2,), (3,), (4, 6, 7, 8, 9), (1.5, 2.5))
_LOG10 = {m: float(np.log10(m)) for group in _MANTISSAS for m in group}  # (computed once, not per candidate)


def decade_ticks(values: np.ndarray, max_ticks: int = 5) -> list[tuple[float, str]]:
    """Ticks for a log axis (positions in log10 units) covering ``values``: at most
    ``max_ticks`` (at least three), evenly spread in log space, the roundest values first --
    decades, then 5s and 2s, then other mantissas -- and round linear steps when the range is
    too small for any of those, so there are always three to read."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return []
    lo, hi = float(np.log10(v.min())), float(np.log10(v.max()))
    n = max(3, max_ticks)
    chosen: list[float] = []
    for squeeze in (1.0, 0.75, 0.55):  # closer labels rather than fewer than three
        gap = squeeze * (hi - lo) / (n - 0.5)  # the least distance between two labels, in decades
        chosen = []
        for mantissas in _MANTISSAS:
            for d in range(math.floor(lo), math.ceil(hi) + 1):
                for m in mantissas:
                    c = _LOG10[m] + d
                    if lo - 1e-9 <= c <= hi + 1e-9 and all(abs(c - k) >= gap - 1e-9 for k in chosen):
                        chosen.append(c)
            if len(chosen) >= n:
                break
        if len(chosen) >= 3:
            break
    if len(chosen) < 3:
        lin = sparse_ticks(10.0**lo, 10.0**hi, n, inset=0.0)
        return [(float(np.log10(x)), _num(x)) for x, _ in lin if x > 0]
    chosen = sorted(chosen)[:n] if len(chosen) <= n else sorted(chosen)
    return [(c, _num(10.0**c)) for c in sorted(chosen)]


def sparse_ticks(lo: float, hi: float, max_ticks: int = 4, inset: float = 0.1) -> list[tuple[float, str]]:
    """Three to ``max_ticks`` round values inside [lo, hi] (a share ``inset`` of the range kept
    free at each end: a label at the very edge would be cut in half), for short plots."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return []
    pad = inset * (hi - lo)
    lo, hi = lo + pad, hi - pad
    best: list[float] = []
    e = int(np.floor(np.log10(hi - lo)))
    for k in range(e + 1, e - 3, -1):  # from coarse to fine: the first step giving 3+ values
        for m in (5.0, 2.5, 2.0, 1.0):
            step = m * 10.0**k
            first = np.ceil(lo / step - 1e-9) * step
            vals = [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]
            if len(vals) >= 3:
                best = vals
                break
        if best:
            break
    best = best[:max(3, max_ticks)]
    return [(float(v), f"{0.0 if abs(v) < 1e-12 * (hi - lo) else v:.4g}") for v in best]


def nice_ticks(n: int, max_ticks: int = 4) -> list[tuple[float, str]]:
    """Integer ticks 0..n-1 at a round step (1, 2, 5, 10, 20, 25, 50...) giving at most
    ``max_ticks`` (at least 4 allowed: 100 rows get 0, 25, 50, 75 rather than two labels)."""
    max_ticks = max(max_ticks, 4)
    if n <= 1:
        return [(0.0, "0")]
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if (n - 1) // step + 1 <= max_ticks:
            return [(float(i), str(i)) for i in range(0, n, step)]
    return [(0.0, "0"), (float(n - 1), str(n - 1))]


def nice_ceil(v: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= v: colour-bar levels that change rarely
    (calmer to watch, and a colour bar is only redrawn when its level changes)."""
    if not np.isfinite(v) or v <= 0:
        return 1e-12
    e = np.floor(np.log10(v))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * 10**e >= v * (1 - 1e-12):
            return float(m * 10**e)
    return float(10 ** (e + 1))


def fit_range(plot: pg.PlotItem, axis: str, values, *, log: bool = False, pad: float = 0.08,
              include: tuple[float, ...] = ()) -> None:
    """Set an axis range to the data explicitly, with hysteresis: the range grows at once but
    shrinks only when the data use less than half of it. pyqtgraph's auto-range is computed
    while painting and then changes the view, which costs a second repaint and a new axis every
    frame; this costs neither while the data stay inside the range."""
    v = np.asarray(values, dtype=float).ravel()
    v = np.concatenate([v, np.asarray(include, dtype=float)])
    v = v[np.isfinite(v) & ((v > 0) if log else True)]
    if v.size == 0:
        return
    if log:
        v = np.log10(v)
    lo, hi = float(v.min()), float(v.max())
    span = max(hi - lo, 0.3 if log else max(1e-9, 0.05 * abs(hi)))  # one point: a readable range
    want = (lo - pad * span, hi + pad * span)
    vb = plot.getViewBox()
    cur = vb.viewRange()[0 if axis == "x" else 1]
    inside = cur[0] <= want[0] and want[1] <= cur[1]
    if inside and (want[1] - want[0]) >= 0.5 * (cur[1] - cur[0]):
        return
    if axis == "x":
        plot.setXRange(*want, padding=0)
    else:
        plot.setYRange(*want, padding=0)


def tune_view(view: QtWidgets.QGraphicsView) -> None:
    """Cheaper repaints for a pyqtgraph view: one bounding rectangle per update instead of a
    region of many, and no antialiasing margins around exposed areas (our items draw inside
    their bounds)."""
    QGV = QtWidgets.QGraphicsView
    view.setViewportUpdateMode(QGV.ViewportUpdateMode.BoundingRectViewportUpdate)
    view.setOptimizationFlag(QGV.OptimizationFlag.DontAdjustForAntialiasing, True)
    # the view paints its own background over every pixel it repaints: the window and dock
    # behind it need not paint that region first
    view.viewport().setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent, True)


def cache_axes(plot: pg.PlotItem) -> None:
    """Render every axis of a plot (a ColorBarItem too) through a pixmap cache, with no tick
    labels overlapping."""
    for name in ("left", "bottom", "right", "top"):
        try:
            ax = plot.getAxis(name)
        except Exception:  # noqa: BLE001 - a plot without that axis
            continue
        ax.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        no_overlaps(ax)


def symmetric_level(*arrays: np.ndarray) -> float:
    """``m`` for levels ``(-m, m)``: the largest finite magnitude (1e-12 when all are zero)."""
    m = 0.0
    for a in arrays:
        if a is None or a.size == 0:
            continue
        finite = a[np.isfinite(a)] if not np.all(np.isfinite(a)) else a
        if finite.size:
            m = max(m, float(np.max(np.abs(finite))))
    return m if m > 0 else 1e-12


def configure_pyqtgraph() -> None:
    """Global pyqtgraph options, set once at application start (never in a widget)."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, useOpenGL=False,
                        background=Theme.background, foreground=Theme.foreground)
