#!/usr/bin/env python3
"""Draws the app icon and the tray icons as PNG files, with nothing but the
standard library, so they can be redrawn anywhere: `python3 icons/generate.py`.

The glyph is three bars, a day's traffic at a glance. Tray states:
normal (the bars), paused (a pause sign), failing (the bars struck
through) and anomalous (the bars with a dot). Each state also comes as a
macOS template image: black on transparent, told apart by shape alone, so
the menu bar can tint it for light and dark.
"""

import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

BLUE = (46, 134, 222)
GREY = (128, 134, 145)
RED = (214, 48, 49)
AMBER = (243, 156, 18)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def write_png(path, size, pixels):
    """pixels: rows of (r, g, b, a) floats in 0..1 (colour not premultiplied)."""
    raw = bytearray()
    for row in pixels:
        raw.append(0)
        for r, g, b, a in row:
            raw.extend(round(max(0.0, min(1.0, c)) * 255) for c in (r, g, b, a))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    png += chunk(b"IEND", b"")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(png)


# Signed distances in the unit square (negative inside).


def capsule(ax, ay, bx, by, r):
    def d(x, y):
        px, py, vx, vy = x - ax, y - ay, bx - ax, by - ay
        t = max(0.0, min(1.0, (px * vx + py * vy) / (vx * vx + vy * vy or 1e-9)))
        return math.hypot(px - vx * t, py - vy * t) - r

    return d


def circle(cx, cy, r):
    return lambda x, y: math.hypot(x - cx, y - cy) - r


def rounded_square(margin, radius):
    half = 0.5 - margin

    def d(x, y):
        qx = abs(x - 0.5) - half + radius
        qy = abs(y - 0.5) - half + radius
        outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
        return outside + min(max(qx, qy), 0.0) - radius

    return d


def union(*shapes):
    return lambda x, y: min(s(x, y) for s in shapes)


def grown(shape, by):
    return lambda x, y: shape(x, y) - by


def bars(scale=1.0, dx=0.0, dy=0.0):
    """Three rising bars with round ends."""
    w = 0.085 * scale
    bottom = 0.5 + 0.34 * scale + dy
    heights = (0.30, 0.68, 0.48)
    xs = (-0.27, 0.0, 0.27)
    return union(
        *(
            capsule(0.5 + x * scale + dx, bottom, 0.5 + x * scale + dx, bottom - h * scale, w)
            for x, h in zip(xs, heights)
        )
    )


def pause_sign():
    return union(capsule(0.36, 0.2, 0.36, 0.8, 0.1), capsule(0.64, 0.2, 0.64, 0.8, 0.1))


def render(size, layers):
    """layers: (shape, colour, cut) painted in order; `cut` shapes clear
    what is under them (a gap around a badge or a stroke)."""
    px = 1.0 / size
    rows = []
    for j in range(size):
        row = []
        for i in range(size):
            x, y = (i + 0.5) * px, (j + 0.5) * px
            r = g = b = a = 0.0
            for shape, colour, cut in layers:
                cover = max(0.0, min(1.0, 0.5 - shape(x, y) / px))
                if cover <= 0.0:
                    continue
                if cut:
                    a *= 1.0 - cover
                    continue
                cr, cg, cb = (c / 255 for c in colour)
                na = cover + a * (1.0 - cover)
                if na > 0:
                    r = (cr * cover + r * a * (1.0 - cover)) / na
                    g = (cg * cover + g * a * (1.0 - cover)) / na
                    b = (cb * cover + b * a * (1.0 - cover)) / na
                a = na
            row.append((r, g, b, a))
        rows.append(row)
    return rows


def tray_layers(state, template):
    ink = lambda colour: BLACK if template else colour  # noqa: E731
    if state == "normal":
        return [(bars(), ink(BLUE), False)]
    if state == "paused":
        return [(pause_sign(), ink(GREY), False)]
    if state == "failing":
        slash = capsule(0.14, 0.14, 0.86, 0.86, 0.055)
        return [
            (bars(), ink(GREY if not template else BLACK), False),
            (grown(slash, 0.06), None, True),
            (slash, ink(RED), False),
        ]
    if state == "anomalous":
        badge = circle(0.78, 0.22, 0.17)
        return [
            (bars(scale=0.9, dx=-0.06, dy=0.04), ink(BLUE), False),
            (grown(badge, 0.07), None, True),
            (badge, ink(AMBER), False),
        ]
    raise ValueError(state)


def app_layers():
    badge = circle(0.72, 0.3, 0.075)
    return [
        (rounded_square(0.06, 0.2), BLUE, False),
        (bars(scale=0.62, dy=0.02), WHITE, False),
        (grown(badge, 0.035), BLUE, False),
        (badge, AMBER, False),
    ]


def main():
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
        write_png(os.path.join(HERE, name), size, render(size, app_layers()))
    for state in ("normal", "paused", "failing", "anomalous"):
        write_png(os.path.join(HERE, "tray", f"{state}.png"), 64, render(64, tray_layers(state, False)))
        write_png(os.path.join(HERE, "tray", f"{state}-template.png"), 64, render(64, tray_layers(state, True)))


if __name__ == "__main__":
    main()
