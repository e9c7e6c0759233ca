"""render/word/ooxml.py: children go where the schema wants them, whatever is there already."""

from __future__ import annotations

import pytest
from docx.oxml import parse_xml
from docx.oxml.table import CT_TblPr, CT_TcPr, CT_TrPr
from docx.oxml.text.font import CT_RPr
from docx.oxml.text.parfmt import CT_PPr

from nexusreports.render.word import ooxml

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def names(element) -> list[str]:
    return [child.tag.split("}")[1] for child in element]


def test_a_cell_margin_goes_before_the_vertical_alignment_already_there():
    tc = parse_xml(f'<w:tc xmlns:w="{W}"><w:tcPr><w:tcW w:w="10" w:type="dxa"/>'
                   '<w:vAlign w:val="center"/></w:tcPr><w:p/></w:tc>')
    ooxml.cell_margins(tc, top=1.0, left=2.0)
    ooxml.shade(tc, "#12355B")
    ooxml.cell_borders(tc, {"top": None, "bottom": {"val": "single", "sz": 4}})
    assert names(tc.tcPr) == ["tcW", "tcBorders", "shd", "tcMar", "vAlign"]
    assert names(tc.tcPr.find(f"{{{W}}}tcMar")) == ["top", "left"]
    assert names(tc.tcPr.find(f"{{{W}}}tcBorders")) == ["top", "bottom"]


def test_table_cell_margins_go_before_the_table_look():
    tbl_pr = parse_xml(f'<w:tblPr xmlns:w="{W}"><w:tblW w:w="0" w:type="auto"/>'
                       '<w:tblLook w:val="0000"/></w:tblPr>')
    ooxml.table_cell_margins(tbl_pr, top=28, left=57, bottom=28, right=57)
    assert names(tbl_pr) == ["tblW", "tblCellMar", "tblLook"]


def test_setting_a_child_again_replaces_it():
    rpr = parse_xml(f'<w:rPr xmlns:w="{W}"><w:b/><w:lang w:val="nl-NL"/>'
                    '<w:eastAsianLayout/></w:rPr>')
    ooxml.set_lang(rpr, "en-GB")
    ooxml.set_child(rpr, ooxml.el("w:sz", val=19))
    assert names(rpr) == ["b", "sz", "lang", "eastAsianLayout"]
    assert rpr.find(f"{{{W}}}lang").get(f"{{{W}}}val") == "en-GB"


def declared(cls) -> list[tuple[str, tuple[str, ...]]]:
    """(child, successors) as python-docx declares them for ``cls`` (ZeroOrOne ...)."""
    out = []
    for name in dir(cls):
        if not name.startswith("_insert_"):
            continue
        for cell in getattr(cls, name).__closure__ or ():
            child = cell.cell_contents
            if hasattr(child, "_successors") and hasattr(child, "_nsptagname"):
                out.append((child._nsptagname, tuple(child._successors)))
    return out


@pytest.mark.parametrize("cls, parent", [(CT_TcPr, "w:tcPr"), (CT_TblPr, "w:tblPr"),
                                         (CT_TrPr, "w:trPr"), (CT_RPr, "w:rPr"),
                                         (CT_PPr, "w:pPr")])
def test_the_sequences_agree_with_python_docx(cls, parent):
    pairs = declared(cls)
    assert pairs, "python-docx declares no children here any more: compare by hand"
    for child, successors in pairs:
        ours = ooxml.successors(parent, child)
        assert [s for s in successors if s in ooxml.SEQUENCES[parent]] == \
            [s for s in ours if s in successors], (parent, child)
