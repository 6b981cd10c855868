"""A bar chart of the gradient/primal ratios as a PNG, with no dependency beyond the Python
standard library (zlib for the PNG, a 5x7 bitmap font for the labels).

    from chart import ratio_chart
    ratio_chart(rows, "benches/results/ratios.png")

rows: dicts with "label", "ratio" (float or None), optional "reference" (Enzyme's figure,
a float) and "failed" (bool: drawn in red). Bars use a log scale from 0.5x to the largest ratio.
"""
import math
import struct
import zlib

# 5x7 glyphs, one string of 7 rows of 5 bits per character
_FONT = {
    " ": "00000" * 7,
    "0": "01110100011001110101110011000101110", "1": "00100011000010000100001000010001110",
    "2": "01110100010000100010001000100011111", "3": "11111000100010000010000011000101110",
    "4": "00010001100101010010111110001000010", "5": "11111100001111000001000011000101110",
    "6": "00110010001000011110100011000101110", "7": "11111000010001000100010000100001000",
    "8": "01110100011000101110100011000101110", "9": "01110100011000101111000010001001100",
    ".": "00000000000000000000000000110001100", ",": "00000000000000000000001100010001000",
    "_": "00000000000000000000000000000011111", "-": "00000000000000011111000000000000000",
    "x": "00000000001000101010001000101010001", "/": "00000000010001000100010001000000000",
    "(": "00010001000100001000010000010000010", ")": "01000001000001000010000100010001000",
    ":": "00000011000110000000011000110000000", "=": "00000000001111100000111110000000000",
    "<": "00010001000100010000010000010000010", ">": "01000001000001000001000100010001000",
    "+": "00000001000010011111001000010000000", "*": "00000001001010101110101010010000000",
    "%": "11000110010001000100010001001100011", "^": "00100010101000100000000000000000000",
    "a": "00000000000111000001011111000101111", "b": "10000100001011011001100011000111110",
    "c": "00000000000111010000100001000101110", "d": "00001000010110110011100011000101111",
    "e": "00000000000111010001111111000001110", "f": "00110010010100011100010000100001000",
    "g": "00000011111000110001011110000101110", "h": "10000100001011011001100011000110001",
    "i": "00100000000110000100001000010001110", "j": "00010000000011000010000101001001100",
    "k": "10000100001001010100110001010010010", "l": "01000010000100001000010000100100110",
    "m": "00000000001101010101101011000110001", "n": "00000000001011011001100011000110001",
    "o": "00000000000111010001100011000101110", "p": "00000111101000110001111101000010000",
    "q": "00000011111000110001011110000100001", "r": "00000000001011011001100001000010000",
    "s": "00000000000111010000011100000111110", "t": "01000010001110001000010000100100110",
    "u": "00000000001000110001100011001101101", "v": "00000000001000110001100010101000100",
    "w": "00000000001000110001101011010101010", "y": "00000100011000110001011110000101110",
    "z": "00000000001111100010001000100011111",
}
for _c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _FONT.setdefault(_c, _FONT.get(_c.lower(), _FONT[" "]))
_FONT.update({
    "A": "01110100011000111111100011000110001", "B": "11110100011000111110100011000111110",
    "C": "01110100011000010000100001000101110", "D": "11100100101000110001100011001011100",
    "E": "11111100001000011110100001000011111", "F": "11111100001000011110100001000010000",
    "G": "01110100011000010111100011000101111", "H": "10001100011000111111100011000110001",
    "I": "01110001000010000100001000010001110", "J": "00111000100001000010000101001001100",
    "K": "10001100101010011000101001001010001", "L": "10000100001000010000100001000011111",
    "M": "10001110111010110101100011000110001", "N": "10001100011100110101100111000110001",
    "O": "01110100011000110001100011000101110", "P": "11110100011000111110100001000010000",
    "Q": "01110100011000110001101011001001101", "R": "11110100011000111110101001001010001",
    "S": "01111100001000001110000010000111110", "T": "11111001000010000100001000010000100",
    "U": "10001100011000110001100011000101110", "V": "10001100011000110001100010101000100",
    "W": "10001100011000110101101011010101010", "X": "10001100010101000100010101000110001",
    "Y": "10001100011000101010001000010000100", "Z": "11111000010001000100010001000011111",
})


class Canvas:
    def __init__(self, w, h, bg=(255, 255, 255)):
        self.w, self.h = w, h
        self.px = bytearray(bytes(bg) * (w * h))

    def rect(self, x0, y0, x1, y1, color):
        x0, x1 = max(0, min(x0, x1)), min(self.w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.h, max(y0, y1))
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            i = 3 * (y * self.w + x0)
            self.px[i:i + len(row)] = row

    def text(self, x, y, s, color=(0, 0, 0), scale=1):
        for ch in s:
            g = _FONT.get(ch, _FONT[" "])
            dy = 2 * scale if ch in "gjpqy" else 0  # descenders go below the baseline
            for r in range(7):
                for c in range(5):
                    if g[5 * r + c] == "1":
                        self.rect(x + c * scale, y + dy + r * scale, x + (c + 1) * scale, y + dy + (r + 1) * scale, color)
            x += 6 * scale

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[3 * y * self.w:3 * (y + 1) * self.w]) for y in range(self.h))

        def chunk(tag, data):
            c = struct.pack(">I", len(data)) + tag + data
            return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))


def ratio_chart(rows, path, title="RadX: derivative time / primal time (log scale)"):
    label_w, bar_h, gap, top, right = 6 * 46 + 10, 16, 6, 50, 90
    plot_w = 560
    w = label_w + plot_w + right
    h = top + len(rows) * (bar_h + gap) + 40
    cv = Canvas(w, h)
    cv.text(10, 12, title, scale=2)
    vals = [r["ratio"] for r in rows if r.get("ratio")] + [r["reference"] for r in rows if r.get("reference")]
    lo, hi = 0.5, max([2.0] + vals) * 1.15
    lmin, lmax = math.log10(lo), math.log10(hi)

    def xpos(v):
        return label_w + int(plot_w * (math.log10(max(v, lo)) - lmin) / (lmax - lmin))

    # grid
    for g in [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]:
        if lo <= g <= hi:
            x = xpos(g)
            cv.rect(x, top - 6, x + 1, h - 30, (215, 215, 215))
            cv.text(x - 3 * len(f"{g:g}"), h - 24, f"{g:g}", (90, 90, 90))
    y = top
    for r in rows:
        cv.text(10, y + 4, r["label"][:46])
        ratio = r.get("ratio")
        color = (200, 40, 40) if r.get("failed") else (60, 110, 190)
        if ratio:
            cv.rect(label_w, y, xpos(ratio), y + bar_h, color)
            cv.text(xpos(ratio) + 4, y + 4, f"{ratio:.2f}")
        if r.get("reference"):
            x = xpos(r["reference"])
            cv.rect(x - 1, y - 2, x + 2, y + bar_h + 2, (240, 150, 20))
        y += bar_h + gap
    cv.text(label_w, h - 12, "bar: RadX  orange tick: Enzyme reference  red: a derivative check failed", (90, 90, 90))
    cv.png(path)
