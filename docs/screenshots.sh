#!/usr/bin/env bash
# Screenshots of bpttviz as a user sees it, under a real window manager: the first launch on a
# 1366x768 laptop (docs/screenshot.png) and lecture mode on a 1080p projector
# (docs/lecture-mode.png). Every run starts from a fresh HOME, so no remembered layout hides what
# a first-time user gets.
#
# Needs: Xvfb, openbox, xdotool, ImageMagick (Debian/Ubuntu:
#   apt-get install -y xvfb openbox xdotool x11-utils imagemagick libxcb-icccm4 libxcb-keysyms1 \
#       libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0 libxcb-cursor0)
#
# Usage: docs/screenshots.sh [output folder, default docs] [python, default .venv/bin/python]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/docs}
py=${2:-$here/.venv/bin/python}
display=${DISPLAY_NUMBER:-97}
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

start_screen() {  # start_screen WIDTHxHEIGHT
    Xvfb ":$display" -screen 0 "${1}x24" -nolisten tcp &
    pids+=($!)
    for _ in $(seq 50); do xdpyinfo -display ":$display" >/dev/null 2>&1 && break; sleep 0.1; done
    DISPLAY=":$display" openbox >/dev/null 2>&1 &
    pids+=($!)
    sleep 1
}

stop_screen() {
    cleanup
    pids=()
    sleep 0.5
}

launch() {  # launch ARGS... : the app with a fresh HOME; sets $win to its window id
    home=$(mktemp -d)
    (cd "$here" && DISPLAY=":$display" HOME="$home" XDG_CONFIG_HOME="$home/.config" PYTHONPATH="$here" \
        QT_QPA_PLATFORM=xcb "$py" -m bpttviz "$@" >/dev/null 2>&1) &
    pids+=($!)
    win=""
    for _ in $(seq 100); do
        win=$(DISPLAY=":$display" xdotool search --onlyvisible --name "bpttviz" 2>/dev/null | head -1 || true)
        [ -n "$win" ] && break
        sleep 0.2
    done
    [ -n "$win" ] || { echo "the window did not appear" >&2; exit 1; }
    sleep 3  # maximised or full screen by the window manager, laid out, first frame painted
    DISPLAY=":$display" xdotool windowactivate --sync "$win" >/dev/null 2>&1 || true
}

keys() {  # keys KEY... : real key presses, a pause after each
    for k in "$@"; do
        DISPLAY=":$display" xdotool key --window "$win" "$k"
        sleep 0.4
    done
}

shoot() {  # shoot FILE : the whole screen, palette-reduced to keep the PNG small
    DISPLAY=":$display" import -window root "$1.full.png"
    convert "$1.full.png" -strip -colors 255 -define png:compression-level=9 "$1"
    rm -f "$1.full.png"
    echo "wrote $1 ($(du -k "$1" | cut -f1) kB)"
}

mkdir -p "$out"

# 1. a learner's laptop: first launch, train a little, then step into the backward pass
start_screen 1366x768
launch --preset min-char-rnn
keys space
sleep 4
keys space ctrl+Right shift+Right shift+Right Right Right Right
sleep 1
shoot "$out/screenshot.png"
stop_screen

# 2. a lecture hall's projector: a guided scenario in lecture mode, at a stop focusing a plot
start_screen 1920x1080
launch --preset lecture-2-vanishing --lecture
keys Next
sleep 6  # the stop trains
keys Next
sleep 6
shoot "$out/lecture-mode.png"
stop_screen
