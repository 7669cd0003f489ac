"""The risk picture /stats sends: where the open concerns sit on the matrix, and what about.

One PNG, about 1600x1000 px so it reads on a phone: the 5x5 matrix as a heat map (each cell
in its band's colour, full where it holds concerns and pale where it holds none, labelled
with the count), and
beside it counts by standard domain and by organisation. It draws counts the database made
(`storage.views.OpenCounts`), never the concerns themselves. Drawn on a bare matplotlib Figure
with the Agg canvas: no pyplot, no display, no global state, so it is safe in a bot process
and the same counts always give the same bytes. matplotlib and numpy (about 50 MiB and
half a second) are imported by the functions that draw, so only a bot that is asked for a
picture loads them, at the first /stats, in the thread that draws it.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from io import BytesIO
from typing import TYPE_CHECKING

from bot.reports.colours import band_hex
from dialogues.bundle import Content
from storage.views import OpenCounts

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from matplotlib.axes import Axes

SIZE_INCHES = (16, 10)
DPI = 100
LABEL_WIDTH = 32  # characters before a bar label wraps
BAR_COLOUR = "#005EB8"  # NHS blue
# An empty cell keeps a tint of its band's colour so the matrix still reads as one. Shading
# by count as well was tried: pale amber and pale yellow then looked alike.
EMPTY_STRENGTH = 0.3


def risk_picture(counts: OpenCounts, content: Content) -> bytes:
    """The PNG: heat map of the counted concerns, counts by domain and by organisation."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2, 2, width_ratios=(1, 1))
    _matrix(figure.add_subplot(grid[:, 0]), counts, content)
    alert = content.prompts.alert
    _bars(figure.add_subplot(grid[0, 1]), alert["standards"], _by_domain(counts, content))
    _bars(figure.add_subplot(grid[1, 1]), alert["organisation"], _by_organisation(counts, content))
    out = BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _heat(
    opened: OpenCounts, content: Content
) -> tuple[npt.NDArray[np.int_], npt.NDArray[np.float64]]:
    """Counts and RGB colours of the matrix, rows by likelihood and columns by impact."""
    import numpy as np
    from matplotlib.colors import to_rgb

    risk = content.catalogue.risk
    likelihoods = sorted(level.score for level in risk.likelihood)
    impacts = sorted(level.score for level in risk.impact)
    tally = Counter(opened.cells)
    counts = np.zeros((len(likelihoods), len(impacts)), dtype=np.int_)
    image = np.ones((len(likelihoods), len(impacts), 3))
    for row, likelihood in enumerate(likelihoods):
        for column, impact in enumerate(impacts):
            counts[row, column] = tally[(likelihood, impact)]
            band = risk.band_for(risk.score(likelihood, impact))
            strength = 1.0 if counts[row, column] else EMPTY_STRENGTH
            colour = np.array(to_rgb(f"#{band_hex(band.colour)}"))
            image[row, column] = 1 - strength * (1 - colour)  # mixed with white
    return counts, image


def _matrix(axes: Axes, opened: OpenCounts, content: Content) -> None:
    risk = content.catalogue.risk
    likelihoods = sorted(risk.likelihood, key=lambda level: level.score)
    impacts = sorted(risk.impact, key=lambda level: level.score)
    import numpy as np

    counts, image = _heat(opened, content)
    for (row, column), count in np.ndenumerate(counts):
        axes.text(
            column, row, str(count), ha="center", va="center",
            fontsize=22, fontweight="bold" if count else "normal",
            color="black" if count else "dimgray",
        )  # fmt: skip
    axes.imshow(image, origin="lower", aspect="auto")
    axes.set_xticks(range(len(impacts)), [f"{v.score}\n{v.label}" for v in impacts], fontsize=13)
    axes.set_yticks(
        range(len(likelihoods)),
        [textwrap.fill(f"{v.score} {v.label}", 10) for v in likelihoods],
        fontsize=13,
    )
    alert = content.prompts.alert
    axes.set_xlabel(alert["impact"], fontsize=15)
    axes.set_ylabel(alert["likelihood"], fontsize=15)
    axes.set_title(alert["score"], fontsize=18)


def _by_domain(opened: OpenCounts, content: Content) -> list[tuple[str, int]]:
    """Counts per domain, every domain shown; a concern counts once for each it touches."""
    framework = content.catalogue.framework
    domain_of = {standard.id: standard.domain for standard in framework.standards}
    counts: Counter[int | None] = Counter()
    for standards, count in opened.standards.items():
        # Standard ids the content no longer knows cannot be placed; treat them as unsure.
        domains: set[int | None] = {domain_of[s] for s in standards if s in domain_of}
        for domain in domains or {None}:
            counts[domain] += count
    rows = [(f"{d.number} {d.name}", counts[d.number]) for d in framework.domains]
    return [*rows, (content.prompts.step("topics").label("not_sure"), counts[None])]


def _by_organisation(opened: OpenCounts, content: Content) -> list[tuple[str, int]]:
    """Counts per organisation that has any, most first, then by name. A typed organisation
    is sealed, so it cannot be grouped by: such concerns count under "other"."""
    names = {o.key: o.name for o in content.catalogue.organisations}
    counts: Counter[str] = Counter()
    for key, count in opened.organisations.items():
        counts[names.get(key, key)] += count
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _bars(axes: Axes, title: str, counts: list[tuple[str, int]]) -> None:
    from matplotlib.ticker import MaxNLocator

    labels = [textwrap.fill(label, LABEL_WIDTH) for label, _ in counts]
    bars = axes.barh(range(len(counts)), [count for _, count in counts], color=BAR_COLOUR)
    axes.set_yticks(range(len(counts)), labels, fontsize=11)
    axes.invert_yaxis()  # first row at the top
    axes.bar_label(bars, fontsize=12, padding=3)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(axis="x", labelsize=11)
    axes.margins(x=0.15)
    axes.set_title(title, fontsize=16)
