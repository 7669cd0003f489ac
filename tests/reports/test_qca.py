"""The QCA document: every alert field, the band colour, the footer, and no identity leaks."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest
from docx import Document
from docx.oxml.ns import qn

from bot.reports.qca import qca_docx, qca_text
from dialogues.alert import alert_fields
from dialogues.bundle import Content

from .conftest import MakeConcern

TRICKY = 'Rota gaps, "unsafe" nights;\nno senior on site — since March.\n\tSecond paragraph.'


def _xml_parts(docx_bytes: bytes) -> str:
    """Every XML part of the package, joined: what anyone unzipping the file could read."""
    with zipfile.ZipFile(BytesIO(docx_bytes)) as package:
        return "\n".join(
            package.read(name).decode("utf-8")
            for name in package.namelist()
            if name.endswith((".xml", ".rels"))
        )


def test_the_document_opens_with_every_label_the_title_and_the_description(
    content: Content, make_concern: MakeConcern
) -> None:
    concern = make_concern(description=TRICKY)
    data = qca_docx(concern, content)

    document = Document(BytesIO(data))
    assert document.paragraphs[0].text == "Quality Concerns Alert QC-2025-0001"
    text = qca_text(data)
    for field in alert_fields(concern, content):
        assert field.label in text
        assert field.value in text
    assert TRICKY in text


def test_the_table_pairs_each_label_with_its_value_in_the_forms_order(
    content: Content, make_concern: MakeConcern
) -> None:
    concern = make_concern()
    table = Document(BytesIO(qca_docx(concern, content))).tables[0]
    pairs = [(row.cells[0].text, row.cells[1].text) for row in table.rows]
    assert pairs == [(f.label, f.value) for f in alert_fields(concern, content)]


@pytest.mark.parametrize(
    ("likelihood", "impact", "fill"),
    [(1, 2, "00B050"), (2, 3, "FFFF00"), (4, 3, "FFC000"), (5, 4, "FF0000")],
)
def test_the_score_cell_is_shaded_in_the_bands_colour(
    content: Content, make_concern: MakeConcern, likelihood: int, impact: int, fill: str
) -> None:
    score = likelihood * impact
    concern = make_concern(likelihood=likelihood, impact=impact, score=score)
    table = Document(BytesIO(qca_docx(concern, content))).tables[0]
    shaded = {}
    for row in table.rows:
        shd = row.cells[1]._tc.tcPr.find(qn("w:shd"))
        if shd is not None:
            shaded[row.cells[0].text] = shd.get(qn("w:fill"))
    assert shaded == {"Risk score": fill}


def test_the_footer_says_the_rating_is_a_first_view_and_gives_the_version(
    content: Content, make_concern: MakeConcern
) -> None:
    data = qca_docx(make_concern(content_version="0ld0ld0ld0ld"), content)
    footer = Document(BytesIO(data)).sections[0].footer.paragraphs[0].text
    assert "first view" in footer
    assert "the Quality team makes the final rating" in footer
    assert "0ld0ld0ld0ld" in footer
    assert content.version in footer


def test_an_anonymous_concern_leaves_no_trace_of_the_reporter(
    content: Content, make_concern: MakeConcern
) -> None:
    concern = make_concern(
        identity="anonymous",
        owner="telegram:user:424242",
        reporter_name="Secret Name",
        reporter_contact="secret.person@example.nhs.uk",
    )
    data = qca_docx(concern, content)
    for where in (qca_text(data), _xml_parts(data)):
        for secret in ("424242", "telegram", "Secret Name", "secret.person"):
            assert secret not in where
    assert content.prompts.alert["anonymous"] in qca_text(data)


def test_a_confidential_concern_shows_the_reporter_but_never_the_channel_id(
    content: Content, make_concern: MakeConcern
) -> None:
    concern = make_concern(owner="telegram:user:424242")
    data = qca_docx(concern, content)
    assert "Alex Reporter, alex.reporter@example.nhs.uk" in qca_text(data)
    assert "424242" not in _xml_parts(data)
