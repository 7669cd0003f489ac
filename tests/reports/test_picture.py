"""The risk picture: a phone-sized PNG that changes with its input and only with it."""

from __future__ import annotations

import struct
from collections import Counter

import numpy as np
import pytest

from bot.reports.picture import _by_domain, _by_organisation, _heat, risk_picture
from dialogues.bundle import Content
from dialogues.records import Concern
from storage.views import OpenCounts

from .conftest import MakeConcern

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def counted(concerns: list[Concern]) -> OpenCounts:
    """The concerns counted as storage counts them (`TeamViews.open_counts`)."""
    return OpenCounts(
        total=len(concerns),
        cells=Counter((c.likelihood, c.impact) for c in concerns),
        organisations=Counter(c.organisation for c in concerns),
        standards=Counter(tuple(sorted(c.standards)) for c in concerns),
    )


def _size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which the PNG format puts first."""
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_the_picture_is_a_png_of_phone_readable_size(
    content: Content, make_concern: MakeConcern
) -> None:
    png = risk_picture(counted([make_concern()]), content)
    assert png.startswith(PNG_SIGNATURE)
    assert _size(png) == (1600, 1000)


def test_the_same_concerns_give_the_same_bytes_and_others_do_not(
    content: Content, make_concern: MakeConcern
) -> None:
    some = [make_concern(), make_concern(reference="B", likelihood=5, impact=5, score=25)]
    other = [make_concern(), make_concern(reference="B", likelihood=1, impact=1, score=1)]
    assert risk_picture(counted(some), content) == risk_picture(counted(some), content)
    assert risk_picture(counted(some), content) != risk_picture(counted(other), content)
    assert risk_picture(counted(some), content) != risk_picture(counted(some[:1]), content)


def test_an_empty_picture_still_draws(content: Content) -> None:
    png = risk_picture(counted([]), content)
    assert _size(png) == (1600, 1000)


def test_the_matrix_counts_by_likelihood_and_impact_in_band_colours(
    content: Content, make_concern: MakeConcern
) -> None:
    concerns = [
        make_concern(),  # likelihood 4, impact 3: 12, amber
        make_concern(likelihood=4, impact=3, score=12),
        make_concern(likelihood=1, impact=5, score=5),  # yellow
    ]
    counts, image = _heat(counted(concerns), content)
    assert counts.shape == (5, 5)
    assert counts[3, 2] == 2 and counts[0, 4] == 1 and counts.sum() == 3
    assert image[3, 2] == pytest.approx([1.0, 0xC0 / 255, 0.0])  # full amber
    assert image[0, 4] == pytest.approx([1.0, 1.0, 0.0])  # full yellow
    # Empty cells keep a pale tint of their band: green at the bottom left, red top right.
    low, extreme = image[0, 0], image[4, 4]
    assert np.all(low > 0.6) and low[1] > low[0] and low[1] > low[2]
    assert np.all(extreme > 0.6) and extreme[0] > extreme[1]


def test_a_concern_counts_once_per_domain_it_touches(
    content: Content, make_concern: MakeConcern
) -> None:
    concerns = [
        make_concern(standards=("1.1", "1.2", "3.1")),  # domains 1 and 3
        make_concern(standards=("1.5",)),  # domain 1
        make_concern(standards=()),  # not sure
        make_concern(standards=("9.9",)),  # unknown to the content: not sure
    ]
    counts = _by_domain(counted(concerns), content)
    assert [label.split(" ")[0] for label, _ in counts] == ["1", "2", "3", "4", "5", "6", "Not"]
    assert counts[0] == ("1 Learning environment and culture", 2)
    assert [count for _, count in counts] == [2, 0, 1, 0, 0, 0, 2]
    assert counts[-1] == ("Not sure", 2)


def test_organisations_are_named_and_ordered_by_count(
    content: Content, make_concern: MakeConcern
) -> None:
    concerns = [
        make_concern(organisation="royal_papworth"),
        make_concern(),
        make_concern(organisation="royal_papworth"),
        make_concern(organisation="west_suffolk"),
    ]
    assert _by_organisation(counted(concerns), content) == [
        ("Royal Papworth Hospital", 2),
        ("Cambridge University Hospitals", 1),
        ("West Suffolk", 1),
    ]
