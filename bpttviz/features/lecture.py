"""Lecture mode: the window as a presenter needs it on a projector.

Entering it (F5, Ctrl+L, View ▸ Lecture mode, or ``--lecture``) makes the window full screen,
scales every font of the window -- plot axes included -- through the theme (the zoom machinery),
draws thicker lines, switches to a high-contrast light theme with the colour-blind-safe diverging
map, hides the configuration panel and the menu bar, and swaps the transport bar for a presenter's
bar (back, step, play, the scenario's stops). Leaving it restores the previous layout exactly:
dock and toolbar state, geometry, full-screen state, menu bar and theme are remembered on entry
and put back on exit. Closing the window in lecture mode leaves it first, so the remembered
layout saved at exit is the normal one.

Esc in lecture mode leaves lecture mode altogether (full screen, layout, theme: everything comes
back), never half of it; with the shortcut overlay open it closes the overlay first. B and .
(the blank-screen keys of presenter clickers) black the window out and bring it back; Esc brings
it back too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets

from bpttviz.views.theme import DIVERGING_NAMES, Theme

#: the height of lecture mode's smallest text as a share of the screen's height: 28 pixels on a
#: 1080-pixel projector, read from the back row; other screens in proportion
LECTURE_TEXT = 28 / 1080
SCALE_LIMITS = (1.4, 4.0)
#: pen widths are multiplied by this
LECTURE_LINES = 1.6


#: the lecture layout: dock area -> docks tabbed together there, the first one raised
GROUPS = (
    (QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, ("explain", "task", "whatif")),
    (QtCore.Qt.DockWidgetArea.RightDockWidgetArea, ("compare",)),
    (QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, ("deltas", "weights", "decay", "attribution", "loss", "gradcheck",
                                                     "buglab")),
)
#: share of the window's width (left, right) and height (bottom) the groups get
SHARES = {"left": 0.3, "right": 0.3, "bottom": 0.4}
#: while a scenario stop focuses a view, its group gets this share of the window (the bottom
#: group then spans the full width, the left one the full height): with the caption above, the
#: focus view then has at least half of the screen
FOCUSED = {"bottom": 0.56, "left": 0.6}
#: the groups' shares while the graph is the focus (it then has at least half of the screen)
GRAPH_FOCUSED = {"left": 0.22, "right": 0.22, "bottom": 0.22}
#: in lecture mode a view may be squeezed down to this (a long label must not push the window wider
#: than the screen, which would drop it out of full screen)
MIN_VIEW = (120, 90)
#: the unrolled graph keeps at least this share of the window's height, whatever the docks ask
#: (less while a plot of the bottom group is the focus)
GRAPH_MIN_HEIGHT = 0.33
GRAPH_MIN_FOCUSED = 0.2


def lecture_scale(screen_height: int, base_points: float = 10.0, dpi: float | None = None) -> float:
    """The font scale that makes text ``LECTURE_TEXT`` of a screen ``screen_height`` (logical)
    pixels high, for body text of ``base_points`` at ``dpi`` logical dots per inch (the
    primary screen's, else 96); rounded up to a hundredth."""
    if dpi is None:
        app = QtWidgets.QApplication.instance()
        screen = app.primaryScreen() if app is not None else None
        dpi = screen.logicalDotsPerInch() if screen is not None else 96.0
    lo, hi = SCALE_LIMITS
    px = LECTURE_TEXT * screen_height
    scale = px * 72.0 / (dpi * base_points)
    return math.ceil(min(hi, max(lo, scale)) * 100) / 100


def lecture_theme(theme: Theme, scale: float = 2.1) -> Theme:
    """A light, high-contrast projector theme: white background, near-black text, a darker
    "muted" grey (projectors wash light greys out), stronger grid, the colour-blind-safe diverging
    map, large fonts (``scale``, never smaller than the current zoom) and thicker lines."""
    return theme.with_(background="#FFFFFF", panel="#ECECE8", foreground="#111111", muted="#4A4A4A",
                       grid_alpha=0.3, diverging=DIVERGING_NAMES[1], scale=max(theme.scale, scale),
                       line_scale=LECTURE_LINES, min_factor=1.0)


@dataclass
class _Saved:
    theme: Theme
    state: QtCore.QByteArray
    geometry: QtCore.QRect  # the normal (not full-screen, not maximised) geometry
    geometry_bytes: QtCore.QByteArray  # saveGeometry(): what the window's settings remember
    window_state: QtCore.Qt.WindowState
    menu_visible: bool
    colourblind: bool
    minimums: dict
    graph_mode_visible: bool
    graph_minimum: QtCore.QSize


class BlankScreen(QtWidgets.QWidget):
    """A black sheet over the whole window (the room looks at the speaker, not the screen)."""

    def __init__(self, window: QtWidgets.QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("blank_screen")
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor("#000000"))
        self.setPalette(pal)
        self.hide()
        window.installEventFilter(self)

    def toggle(self) -> None:
        self.set_blank(self.isHidden())

    def set_blank(self, on: bool) -> None:
        if on:
            self.setGeometry(self.parentWidget().rect())
            self.show()
            self.raise_()
        else:
            self.hide()

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        if obj is self.parentWidget() and ev.type() == QtCore.QEvent.Type.Resize and self.isVisible():
            self.setGeometry(self.parentWidget().rect())
        return False


class LectureMode(QtCore.QObject):
    """``LectureMode(window, presenter_bar)``: ``enter()``, ``leave()``, ``toggle()``, ``active``.

    ``presenter_bar`` is a toolbar holding the presenter's actions; it replaces the window's
    transport bar while lecture mode is on."""

    toggled = QtCore.Signal(bool)

    def __init__(self, window: QtWidgets.QMainWindow, presenter_bar: QtWidgets.QToolBar,
                 extra_docks: dict[str, QtWidgets.QDockWidget] | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.bar = presenter_bar
        self.extra_docks = dict(extra_docks or {})  # docks the window does not list in ``docks``
        self.bottom_share = SHARES["bottom"]
        self.focus: str | None = None  # the group ("left" / "bottom") of the stop's focus view
        self._tucked: list[QtWidgets.QDockWidget] = []  # docks put away while a plot is the focus
        self._saved: _Saved | None = None
        window.installEventFilter(self)
        self.blank = BlankScreen(window)
        K = QtCore.Qt.Key
        if "blank" not in window.act:
            window.add_action("blank", "Blank screen", self.blank.toggle, [K.Key_B, K.Key_Period],
                              "Black the screen out / bring it back (clicker keys)")
        esc = window.act.get("leave_fullscreen")
        if esc is not None:  # Esc: out of lecture mode entirely, never only out of full screen
            esc.triggered.disconnect()
            esc.triggered.connect(self.escape)

    def escape(self) -> None:
        """Esc: bring a blanked screen back; else close the shortcut overlay; else leave lecture
        mode (all of it); else what Esc does outside lecture mode (leave full screen)."""
        w = self.window
        if self.blank.isVisible():
            self.blank.set_blank(False)
        elif self.active and not w.overlay.isVisible():
            self.leave()
            w.graph.setFocus()
        else:
            w.leave_full_screen()

    @property
    def active(self) -> bool:
        return self._saved is not None

    def toggle(self) -> None:
        self.leave() if self.active else self.enter()

    def enter(self, full_screen: bool = True) -> None:
        """Switch to lecture mode (``full_screen=False`` for offscreen renders at a fixed size)."""
        w = self.window
        if self.active:
            return
        docks = {**w.docks, **self.extra_docks}
        self.bottom_share = SHARES["bottom"]
        self._saved = _Saved(theme=w.theme, state=w.saveState(), geometry_bytes=w.saveGeometry(),
                             geometry=w.normalGeometry() if w.isFullScreen() or w.isMaximized() else w.geometry(),
                             window_state=w.windowState(), menu_visible=w.menuBar().isVisible(),
                             colourblind=w.act["colourblind"].isChecked(),
                             minimums={d: d.widget().minimumSize() for d in docks.values() if d.widget() is not None},
                             graph_mode_visible=not w.graph.mode.isHidden(), graph_minimum=w.graph.minimumSize())
        C = QtCore.Qt.Corner
        self._corners = {c: w.corner(c) for c in (C.BottomLeftCorner, C.BottomRightCorner)}
        for d in self._saved.minimums:
            d.widget().setMinimumSize(*MIN_VIEW)
        w.graph.mode.hide()  # D switches the colouring; the caption gets the room
        w.docks["config"].hide()
        w.transport.hide()
        self.bar.show()
        w.menuBar().hide()
        w.act["colourblind"].setChecked(True)
        screen = w.screen().geometry() if full_screen and w.screen() is not None else w.geometry()
        w.apply_theme(lecture_theme(w.theme, lecture_scale(screen.height(), w.theme.base_points)))
        self._layout()
        if full_screen:
            w.showFullScreen()
            w.act["fullscreen"].setChecked(True)
        self._size(screen.width(), screen.height())
        QtCore.QTimer.singleShot(50, self._settle)
        self._sync_action(True)
        self.toggled.emit(True)

    def leave(self) -> None:
        """Back to the layout, geometry, window state and theme from before ``enter``."""
        s = self._saved
        if s is None:
            return
        w = self.window
        self._tuck(False)
        self._saved = None
        w.act["colourblind"].setChecked(s.colourblind)
        w.apply_theme(s.theme)
        if s.window_state & QtCore.Qt.WindowState.WindowFullScreen:
            w.showFullScreen()
        else:
            if w.isFullScreen():
                w.showNormal()
            w.setWindowState(s.window_state)
            if not s.window_state & QtCore.Qt.WindowState.WindowMaximized:
                w.setGeometry(s.geometry)  # not restoreGeometry: that one clamps to the screen
        w.act["fullscreen"].setChecked(w.isFullScreen())
        for d, size in s.minimums.items():
            d.widget().setMinimumSize(size)
        w.graph.mode.setVisible(s.graph_mode_visible)
        w.graph.setMinimumSize(s.graph_minimum)
        for corner, area in getattr(self, "_corners", {}).items():
            w.setCorner(corner, area)
        w.restoreState(s.state)
        w.menuBar().setVisible(s.menu_visible)
        QtCore.QTimer.singleShot(50, lambda: self._restore_late(s))
        self._sync_action(False)
        self.toggled.emit(False)

    def _restore_late(self, s: _Saved) -> None:
        """Once the window is back to its size (a window manager applies it a moment later): the
        geometry and the dock sizes once more, which only hold at that size, and no stale tab bars."""
        w = self.window
        if self.active:
            return
        if not w.isFullScreen() and not w.isMaximized() and w.geometry() != s.geometry:
            w.setGeometry(s.geometry)
        w.restoreState(s.state)
        tidy_tab_bars(w)

    def _settle(self) -> None:
        """Once the window has its full-screen size: the dock sizes again, stale tab bars hidden."""
        if self.active:
            self._size(self.window.width(), self.window.height())
        tidy_tab_bars(self.window)

    def _layout(self) -> None:
        """The docks tabbed in three groups (``GROUPS``) around the graph; each keeps its visibility."""
        w = self.window
        docks = {**w.docks, **self.extra_docks}
        for area, names in GROUPS:
            group = [docks[n] for n in names if n in docks]
            for d in group:
                if d.isFloating():
                    d.setFloating(False)
            shown = [d for d in group if not d.isHidden()]
            # straight into tabs: docks stacked even for a moment would make the window grow
            # past the screen
            for d in [*shown, *(d for d in group if d.isHidden())][:1]:
                if w.dockWidgetArea(d) != area:
                    w.addDockWidget(area, d)
            head = (shown or group)[0] if group else None
            for d in group:
                if d is not head and d not in w.tabifiedDockWidgets(head):
                    w.tabifyDockWidget(head, d)
            if shown:
                shown[0].raise_()

    def _tuck(self, away: bool) -> None:
        """While a plot of the bottom group is the focus, the left group (explain, task) is put
        away and the graph's narration line and colour legend hidden: squeezed into what is left
        above the plots they would be unreadable, and the graph gets the whole width and the
        height for its rows instead."""
        w = self.window
        extras = [x for x in (getattr(w.graph, "legend", None), getattr(w.graph, "caption", None)) if x is not None]
        if away:
            docks = {**w.docks, **self.extra_docks}
            for n in GROUPS[0][1]:
                d = docks.get(n)
                if d is not None and d.isVisible() and d not in self._tucked:
                    self._tucked.append(d)
                    d.hide()
            for x in extras:
                x.hide()
        else:
            for d in self._tucked:
                d.show()
            self._tucked = []
            for x in extras:
                x.show()

    def _size(self, width: int, height: int) -> None:
        """Dock sizes for the focus: the focus group spans the window and gets ``FOCUSED`` of it;
        without a focus (or for the graph) the groups get ``SHARES``."""
        w = self.window
        self._tuck(self.focus == "bottom")
        first = {}
        docks = {**w.docks, **self.extra_docks}
        for (_area, names), side in zip(GROUPS, ("left", "right", "bottom")):
            shown = [docks[n] for n in names if n in docks and not docks[n].isHidden()]
            if shown:
                first[side] = shown[0]
        A, C = QtCore.Qt.DockWidgetArea, QtCore.Qt.Corner
        bottom_spans = self.focus == "bottom"
        w.setCorner(C.BottomLeftCorner, A.BottomDockWidgetArea if bottom_spans else A.LeftDockWidgetArea)
        w.setCorner(C.BottomRightCorner, A.BottomDockWidgetArea if bottom_spans else A.RightDockWidgetArea)
        w.graph.setMinimumHeight(int(height * (GRAPH_MIN_FOCUSED if bottom_spans else GRAPH_MIN_HEIGHT)))
        shares = dict(GRAPH_FOCUSED if self.focus == "graph" else SHARES)
        if self.focus in FOCUSED:
            shares[self.focus] = FOCUSED[self.focus]
        H, V = QtCore.Qt.Orientation.Horizontal, QtCore.Qt.Orientation.Vertical
        sides = [s for s in ("left", "right") if s in first]
        if sides:
            w.resizeDocks([first[s] for s in sides], [int(width * shares[s]) for s in sides], H)
        if "bottom" in first:
            w.resizeDocks([first["bottom"]], [int(height * shares["bottom"])], V)
        self.bottom_share = shares["bottom"]

    def emphasise(self, view: str) -> None:
        """A scenario stop focuses ``view``: its group gets the room (``FOCUSED``); the graph
        gets the default shares (lecture mode only)."""
        focus = next((side for (_a, names), side in zip(GROUPS, ("left", "right", "bottom")) if view in names),
                     "graph" if view == "graph" else None)
        focus = focus if focus in FOCUSED or focus == "graph" else None
        if focus != self.focus:
            self.focus = focus
            if self.active:
                self._size(self.window.width(), self.window.height())

    def _sync_action(self, on: bool) -> None:
        a = self.window.act.get("lecture")
        if a is not None and a.isChecked() != on:
            a.setChecked(on)

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:
        # Closing in lecture mode: the window saves its settings (layout, zoom, colour map) as it
        # closes; they must be the normal ones. Re-laying the window out while it closes is not
        # safe, so let it save, then put the remembered pre-lecture values in their place.
        if (obj is self.window and ev.type() == QtCore.QEvent.Type.ChildPolished and self.active
                and isinstance(ev.child(), QtWidgets.QDialog)):
            for wid in (ev.child(), *ev.child().findChildren(QtWidgets.QWidget)):
                wid.setFont(self.window.font())  # dialogs are windows: the window's font does not reach them
        if obj is self.window and ev.type() == QtCore.QEvent.Type.Close and self.active:
            s = self._saved
            self.window.closeEvent(ev)
            if ev.isAccepted():
                self._remember(s)
            return True
        return False

    def _remember(self, s: _Saved) -> None:
        st = self.window.settings
        st.setValue("window/geometry", s.geometry_bytes)
        st.setValue("window/state", s.state)
        st.setValue("view/zoom", s.theme.scale)
        st.setValue("view/diverging", s.theme.diverging)
        st.sync()


class PresenterBar(QtWidgets.QToolBar):
    """The lecture-mode transport: only the given actions (None: a separator), hidden until
    lecture mode shows it in place of the transport bar."""

    def __init__(self, actions: list[QtGui.QAction | None], theme: Theme,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Presenter", parent)
        self.setObjectName("presenter_bar")
        self.setMovable(False)
        self.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toggleViewAction().setVisible(False)
        for a in actions:
            if a is None:
                self.addSeparator()
                continue
            self.addAction(a)
            b = self.widgetForAction(a)
            if b is not None:
                b.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
                b.setObjectName(f"presenter_{a.objectName()}")
        self.hide()
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        f = theme.font(1.0)
        self.setFont(f)
        for a in self.actions():
            b = self.widgetForAction(a)
            if b is not None:
                b.setFont(f)


def tidy_tab_bars(window: QtWidgets.QMainWindow) -> int:
    """Hide the dock tab bars Qt left on screen after docks moved (it hides an unused tab bar only
    at some later relayout; until then it is drawn over whatever is there now). A tab bar in use
    sits right under (or over) the dock of its current tab. Returns how many were hidden."""
    docks = [d for d in window.findChildren(QtWidgets.QDockWidget)
             if d.parent() is window and d.isVisible() and not d.isFloating()]
    hidden = 0
    for tb in window.findChildren(QtWidgets.QTabBar, options=QtCore.Qt.FindChildOption.FindDirectChildrenOnly):
        if not tb.isVisible():
            continue
        g = tb.geometry()
        used = any(abs(g.x() - d.x()) <= 4 and (abs(g.top() - d.geometry().bottom()) <= 8
                                                or abs(g.bottom() - d.geometry().top()) <= 8) for d in docks)
        if not used:
            tb.hide()
            hidden += 1
    return hidden
