"""One concern as a Quality Concerns Alert: a Word document the Quality team can file.

The fields and their wording are `alert_fields`, the same list the alert card and the email
use. The reporter's channel id (`concern.owner`) is never read here; for an anonymous concern
`alert_fields` already leaves out the name and contact, and the document properties carry
nothing about the reporter either. python-docx is imported by the functions that use it,
so a bot loads it at its first document rather than when it starts.
"""

from __future__ import annotations

from datetime import UTC
from io import BytesIO
from typing import TYPE_CHECKING

from bot.reports.colours import band_hex
from dialogues.alert import alert_fields
from dialogues.bundle import Content
from dialogues.records import Concern

if TYPE_CHECKING:
    from docx.table import _Cell

# Not yet in prompts.toml: these belong in its [alert] table once the content owner adds
# them (the prompts loader rejects keys it does not know, so they cannot go there today).

# What may follow <w:shd> inside <w:tcPr>; the schema fixes the order of the children.
_SHD_SUCCESSORS = (
    "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark",
    "w:headers", "w:cellIns", "w:cellDel", "w:cellMerge", "w:tcPrChange",
)  # fmt: skip


def qca_docx(concern: Concern, content: Content) -> bytes:
    """The concern as a QCA Word document: title, a label/value table, the footer line."""
    fields = alert_fields(concern, content)
    title = f"{content.prompts.alert['title']} {concern.reference}"
    from docx import Document
    from docx.shared import Pt

    document = Document()
    # The template says "python-docx" wrote it and when; say only what the document is.
    properties = document.core_properties
    properties.title = title
    properties.author = ""
    properties.last_modified_by = ""
    properties.comments = ""
    received = concern.created_at.astimezone(UTC).replace(tzinfo=None)
    properties.created = received
    properties.modified = received

    document.add_heading(title, level=1)
    table = document.add_table(rows=len(fields), cols=2)
    table.style = "Table Grid"
    colour = band_hex(content.catalogue.risk.band_for(concern.score).colour)
    for row, field in zip(table.rows, fields, strict=True):
        label, value = row.cells
        label.text = field.label
        for run in label.paragraphs[0].runs:
            run.bold = True
        value.text = field.value
        if field.key == "score":
            _shade(value, colour)

    version = (
        content.prompts.alert["content_version"].format(version=concern.content_version)
        if concern.content_version == content.version
        else content.prompts.alert["content_version_now"].format(
            version=concern.content_version, now=content.version
        )
    )
    footer = document.sections[0].footer
    line = footer.paragraphs[0]
    line.text = f"{content.prompts.alert['footer']} {version}."
    for run in line.runs:
        run.font.size = Pt(8)

    out = BytesIO()
    document.save(out)
    return out.getvalue()


def _shade(cell: _Cell, hex_colour: str) -> None:
    """Fill a cell's background; python-docx has no API for it, so write <w:shd> directly."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shd = OxmlElement(
        "w:shd", {qn("w:val"): "clear", qn("w:color"): "auto", qn("w:fill"): hex_colour}
    )
    cell._tc.get_or_add_tcPr().insert_element_before(shd, *_SHD_SUCCESSORS)


def qca_text(docx_bytes: bytes) -> str:
    """A document's text: body paragraphs, then table cells row by row, then footers."""
    from docx import Document

    document = Document(BytesIO(docx_bytes))
    lines = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.extend(cell.text for cell in row.cells)
    for section in document.sections:
        lines.extend(paragraph.text for paragraph in section.footer.paragraphs)
    return "\n".join(lines)
