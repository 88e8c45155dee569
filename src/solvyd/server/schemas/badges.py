"""The badge's picture: a flat two-part SVG (a grey label, a coloured message) in the manner
of shields.io's, drawn from a small template. Every text is escaped: the branch comes from
whoever requests the badge."""

from html import escape

# The colours shields.io uses for these words.
COLOURS = {
    "passing": "#4c1",
    "failing": "#e05d44",
    "error": "#fe7d37",
    "cancelled": "#9f9f9f",
    "unknown": "#9f9f9f",
}
_LABEL_COLOUR = "#555"
_FONT = "Verdana,Geneva,DejaVu Sans,sans-serif"
# Verdana at 11 px: about this many pixels a character, plus padding either side.
_CHAR_WIDTH = 7
_PADDING = 6

_TEMPLATE = """\
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" \
aria-label="{title}">
<title>{title}</title>
<linearGradient id="shine" x2="0" y2="100%">
<stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/>
</linearGradient>
<clipPath id="round"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#round)">
<rect width="{label_width}" height="20" fill="{label_colour}"/>
<rect x="{label_width}" width="{message_width}" height="20" fill="{colour}"/>
<rect width="{width}" height="20" fill="url(#shine)"/>
</g>
<g fill="#fff" text-anchor="middle" font-family="{font}" font-size="11">
<text x="{label_x}" y="15" fill="#010101" fill-opacity=".3">{label}</text>
<text x="{label_x}" y="14">{label}</text>
<text x="{message_x}" y="15" fill="#010101" fill-opacity=".3">{message}</text>
<text x="{message_x}" y="14">{message}</text>
</g>
</svg>
"""


def _width(text: str) -> int:
    return len(text) * _CHAR_WIDTH + 2 * _PADDING


def render_badge(label: str, message: str, *, title: str | None = None) -> str:
    """The SVG of `label: message`; `title` (the tooltip, default the same) may name more."""
    label_width, message_width = _width(label), _width(message)
    return _TEMPLATE.format(
        width=label_width + message_width,
        label_width=label_width,
        message_width=message_width,
        label_x=label_width / 2,
        message_x=label_width + message_width / 2,
        label_colour=_LABEL_COLOUR,
        colour=COLOURS.get(message, COLOURS["unknown"]),
        font=_FONT,
        label=escape(label, quote=True),
        message=escape(message, quote=True),
        title=escape(title or f"{label}: {message}", quote=True),
    )
