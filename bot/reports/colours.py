"""The risk bands' colours as RGB hex, for Word, Excel and matplotlib alike.

The content names a band's colour in words (green, yellow, amber, red); the files need a
number. The hexes are the usual NHS risk-matrix shades.
"""

from __future__ import annotations

BAND_HEX = {
    "green": "00B050",
    "yellow": "FFFF00",
    "amber": "FFC000",
    "red": "FF0000",
}

# A colour word the content adds later should not stop an export: it shows as grey until
# this table learns it.
UNKNOWN_HEX = "BFBFBF"


def band_hex(colour: str) -> str:
    """The six-digit hex (no '#') for a band's colour word."""
    return BAND_HEX.get(colour.strip().casefold(), UNKNOWN_HEX)
