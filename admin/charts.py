"""Tiny server-rendered SVG charts (no JavaScript, no CDN: they work offline and print)."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

COLORS = {"answer": "#2e7d32", "suggest": "#f9a825", "fallback": "#c62828", "bar": "#1565c0"}


def stacked_bars(days: list[dict], series: list[tuple[str, str]], height: int = 180) -> Markup:
    """Vertical stacked bars, one per day; series = [(key, label)]."""
    if not days:
        return Markup('<p class="muted">まだデータがありません。</p>')
    width = max(320, 28 * len(days) + 40)
    top = max((sum(d.get(k) or 0 for k, _ in series) for d in days), default=0) or 1
    plot_h = height - 40
    bw = (width - 40) / len(days)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="日別の質問数" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">',
        f'<text x="2" y="12" font-size="10" fill="#555">{top}</text>',
        f'<line x1="30" y1="{plot_h + 10}" x2="{width}" y2="{plot_h + 10}" stroke="#999"/>',
    ]
    for i, d in enumerate(days):
        x = 34 + i * bw
        y = plot_h + 10
        tip = [d["day"]]
        for key, label in series:
            v = d.get(key) or 0
            h = plot_h * v / top
            y -= h
            if v:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw * 0.75:.1f}" height="{h:.1f}" fill="{COLORS.get(key, "#777")}"/>'
                )
            tip.append(f"{label} {v}")
        parts.append(
            f'<rect x="{x:.1f}" y="10" width="{bw * 0.75:.1f}" height="{plot_h}" fill="transparent">'
            f"<title>{escape(' / '.join(tip))}</title></rect>"
        )
        if len(days) <= 16 or i % max(1, len(days) // 8) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 14}" font-size="9" fill="#555">{escape(d["day"][5:])}</text>')
    legend_x = 34
    for key, label in series:
        parts.append(f'<rect x="{legend_x}" y="{height - 9}" width="9" height="9" fill="{COLORS.get(key, "#777")}"/>')
        parts.append(f'<text x="{legend_x + 12}" y="{height - 1}" font-size="10">{escape(label)}</text>')
        legend_x += 20 + 12 * len(label)
    parts.append("</svg>")
    return Markup("".join(parts))


def hbars(items: list[tuple[str, int]], color: str = COLORS["bar"], label_width: int = 150) -> Markup:
    """Horizontal bars with a label and a value each."""
    if not items:
        return Markup('<p class="muted">まだデータがありません。</p>')
    top = max(v for _, v in items) or 1
    row = 22
    width = 460
    height = row * len(items) + 4
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, v) in enumerate(items):
        y = 2 + i * row
        w = (width - label_width - 50) * v / top
        short = label if len(label) <= 14 else label[:13] + "…"
        parts.append(f'<text x="0" y="{y + 15}" font-size="12"><title>{escape(label)}</title>{escape(short)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{max(w, 1):.1f}" height="15" fill="{color}"/>')
        parts.append(f'<text x="{label_width + w + 4:.1f}" y="{y + 15}" font-size="12">{v}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
