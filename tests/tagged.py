"""Checks of tagged PDFs that the tests share: real validators, our own ParentTree round
trip, the structure text as poppler reads it, and the structure dump the goldens hold.

* :func:`validation_problems`: page-validation's PDF/A-2u and PDF/UA-1 failures, and its
  PDF/A-2a failures but the one that says the file declares level u (a file declares one
  level: ours declare ``U``, and meet every other rule of level a too);
* :func:`tree_problems`: what no validator here catches: MCID -> ParentTree -> element and
  back, annotation ``/StructParent`` -> OBJR and back, ``/StructParents`` and ``/Tabs``,
  Figures with Alt, images only in Figures or artifacts;
* :func:`struct_text`: ``pdfinfo -struct-text`` parsed into elements with their text;
* :func:`dump`: role, language, ActualText/Alt and text of every element, one a line.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name

PROFILES = ("2a", "ua1", "2u")
DECLARED_U = "PDFA2A-ID-CONFORMANCE-001"


def validation_problems(data: bytes) -> list[str]:
    """Every failure page-validation reports for ``data`` under :data:`PROFILES`."""
    import page

    out = []
    for profile in PROFILES:
        report = page.validate_pdf_bytes(data, profile=profile)
        out += [f"{profile}: {f.rule_id}: {f.message}" for f in report.failures
                if f.rule_id != DECLARED_U]
    return out


# --- the ParentTree round trip ------------------------------------------------------------------

def _number_tree(node: pikepdf.Object) -> dict[int, pikepdf.Object]:
    out: dict[int, pikepdf.Object] = {}
    nums = node.get("/Nums")
    if nums is not None:
        for i in range(0, len(nums), 2):
            out[int(nums[i])] = nums[i + 1]
    for kid in node.get("/Kids", []):
        out.update(_number_tree(kid))
    return out


def _kids(elem: pikepdf.Object) -> list:
    k = elem.get("/K")
    if k is None:
        return []
    return list(k) if isinstance(k, Array) else [k]


def _is_int(obj: object) -> bool:
    return isinstance(obj, int) or (isinstance(obj, pikepdf.Object)
                                    and obj._type_code == pikepdf.ObjectType.integer)


def elements(pdf: pikepdf.Pdf) -> list[pikepdf.Object]:
    """Every structure element, pre-order."""
    out = []

    def walk(node: pikepdf.Object) -> None:
        for kid in _kids(node):
            if isinstance(kid, Dictionary) and "/S" in kid:
                out.append(kid)
                walk(kid)

    walk(pdf.Root.StructTreeRoot)
    return out


def _page_marks(page: pikepdf.Page) -> tuple[list[int], list[str]]:
    """MCIDs marked in the page's content, and where an image is drawn, the innermost tag
    it is drawn in (with its MCID, if any) as ``tag|mcid``."""
    mcids, images = [], []
    stack: list[tuple[str, int | None]] = []
    xobjects = page.obj.get("/Resources", {}).get("/XObject", {})
    for instr in pikepdf.parse_content_stream(page):
        if isinstance(instr, pikepdf.ContentStreamInlineImage):
            tag, mcid = stack[-1] if stack else (None, None)
            images.append(f"{tag}|{mcid}")
            continue
        op = str(instr.operator)
        if op in ("BDC", "BMC"):
            mcid = None
            if op == "BDC" and isinstance(instr.operands[1], Dictionary) \
                    and "/MCID" in instr.operands[1]:
                mcid = int(instr.operands[1].MCID)
                mcids.append(mcid)
            stack.append((str(instr.operands[0]), mcid))
        elif op == "EMC":
            stack.pop()
        elif op == "Do":
            xo = xobjects.get(str(instr.operands[0]))
            if xo is not None and xo.get("/Subtype") == Name.Image:
                tag, mcid = stack[-1] if stack else (None, None)
                images.append(f"{tag}|{mcid}")
    return mcids, images


def tree_problems(data: bytes) -> list[str]:
    """Everything wrong with the round trip between content, ParentTree and structure tree
    (empty when all is well)."""
    problems: list[str] = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        root = pdf.Root.get("/StructTreeRoot")
        if root is None:
            return ["no StructTreeRoot"]
        parents = _number_tree(root.ParentTree)
        pages = {p.obj.objgen: i for i, p in enumerate(pdf.pages)}
        # element -> its marked content and annotations, from the tree
        owner: dict[tuple[int, int], pikepdf.Object] = {}
        objr_of: dict[tuple[int, int], pikepdf.Object] = {}
        for elem in elements(pdf):
            role = str(elem.S)
            if role == "/Figure" and not str(elem.get("/Alt", "")):
                problems.append("a Figure without Alt")
            for kid in _kids(elem):
                if _is_int(kid):
                    if "/Pg" not in elem:
                        problems.append(f"{role}: MCID {int(kid)} without /Pg")
                        continue
                    key = (pages[elem.Pg.objgen], int(kid))
                elif isinstance(kid, Dictionary) and kid.get("/Type") == Name.MCR:
                    key = (pages[kid.Pg.objgen], int(kid.MCID))
                elif isinstance(kid, Dictionary) and kid.get("/Type") == Name.OBJR:
                    objr_of[kid.Obj.objgen] = elem
                    continue
                else:
                    continue
                if key in owner:
                    problems.append(f"page {key[0] + 1} MCID {key[1]} in two elements")
                owner[key] = elem
        for i, page in enumerate(pdf.pages):
            mcids, images = _page_marks(page)
            if mcids and "/StructParents" not in page.obj:
                problems.append(f"page {i + 1}: marked content but no /StructParents")
                continue
            if mcids:
                array = parents.get(int(page.obj.StructParents))
                if array is None:
                    problems.append(f"page {i + 1}: /StructParents not in the ParentTree")
                    continue
                if sorted(mcids) != list(range(len(array))):
                    problems.append(f"page {i + 1}: MCIDs {sorted(mcids)} but ParentTree "
                                    f"holds {len(array)} entries")
                for mcid in mcids:
                    elem = owner.get((i, mcid))
                    if elem is None:
                        problems.append(f"page {i + 1} MCID {mcid}: in no element")
                    elif mcid < len(array) and array[mcid].objgen != elem.objgen:
                        problems.append(f"page {i + 1} MCID {mcid}: ParentTree names "
                                        f"{array[mcid].S}, the tree {elem.S}")
            for key in owner:
                if key[0] == i and key[1] not in mcids:
                    problems.append(f"page {i + 1} MCID {key[1]}: in the tree, not on the page")
            for where in images:
                tag, _, mcid = where.partition("|")
                if tag == "/Artifact":
                    continue
                elem = owner.get((i, int(mcid))) if mcid not in ("", "None") else None
                if elem is None or elem.S != Name.Figure:
                    problems.append(f"page {i + 1}: an image tagged {tag} "
                                    f"({elem.S if elem is not None else 'no element'})")
            annots = list(page.obj.get("/Annots", []))
            if annots and page.obj.get("/Tabs") != Name.S:
                problems.append(f"page {i + 1}: annotations but no /Tabs /S")
            for annot in annots:
                if annot.get("/Subtype") != Name.Link:
                    continue
                if "/StructParent" not in annot:
                    problems.append(f"page {i + 1}: a link without /StructParent")
                    continue
                elem = parents.get(int(annot.StructParent))
                mine = objr_of.get(annot.objgen)
                if mine is None:
                    problems.append(f"page {i + 1}: a link in no OBJR")
                elif elem is None or elem.objgen != mine.objgen:
                    problems.append(f"page {i + 1}: a link's StructParent is not its element")
                elif mine.S != Name.Link:
                    problems.append(f"page {i + 1}: a link's OBJR is in {mine.S}, not Link")
                if int(annot.get("/F", 0)) & 4 == 0 or not str(annot.get("/Contents", "")):
                    problems.append(f"page {i + 1}: a link without print flag or /Contents")
    return problems


# --- structure text -------------------------------------------------------------------------------

@dataclass
class Node:
    role: str
    depth: int
    texts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The element's own text (its marked-content pieces joined)."""
        return "".join(self.texts)


def struct_text(path: Path) -> list[Node]:
    """``pdfinfo -struct-text`` of ``path`` as elements in reading order (read once per
    file and content: poppler takes seconds for the bundle)."""
    data = Path(path).read_bytes()
    return [Node(n.role, n.depth, list(n.texts)) for n in _struct_text(str(path), hash(data))]


@lru_cache(maxsize=64)
def _struct_text(path: str, _content: int) -> tuple[Node, ...]:
    out = subprocess.run(["pdfinfo", "-struct-text", path], capture_output=True,
                         text=True, check=True).stdout
    nodes: list[Node] = []
    for line in out.splitlines():
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 2
        if not stripped or stripped.startswith("/") or stripped.startswith("Object "):
            continue
        if stripped.startswith('"'):
            nodes[-1].texts.append(stripped[1:-1])
        else:
            nodes.append(Node(stripped.split()[0].rstrip(":"), depth))
    return tuple(nodes)


def subtree_text(nodes: list[Node], i: int) -> str:
    """The text of element ``i`` and everything under it, pieces joined as read."""
    parts = [nodes[i].text]
    for node in nodes[i + 1:]:
        if node.depth <= nodes[i].depth:
            break
        parts.append(node.text)
    return "".join(parts)


def spoken(pdf: pikepdf.Pdf, nodes: list[Node]) -> list[tuple[str, str]]:
    """(role, what a reader hears) for every element: its ActualText, a Figure's Alt, or
    else its own text; in reading order.  ``nodes`` is :func:`struct_text` of the file."""
    elems = elements(pdf)
    assert [str(e.S)[1:] for e in elems] == [n.role for n in nodes], "poppler skipped one"
    out = []
    for elem, node in zip(elems, nodes):
        if "/ActualText" in elem:
            out.append((node.role, str(elem.ActualText)))
        elif "/Alt" in elem:
            out.append((node.role, str(elem.Alt)))
        else:
            out.append((node.role, node.text))
    return out


def dump(path: Path) -> str:
    """The structure of ``path`` as reviewed text: one element a line, indented by depth:
    role, ``[lang]``, ``actual=``/``alt=`` and the text poppler extracts."""
    nodes = struct_text(path)
    lines = []
    with pikepdf.open(path) as pdf:
        elems = elements(pdf)
        assert [str(e.S)[1:] for e in elems] == [n.role for n in nodes], "poppler skipped one"
        for elem, node in zip(elems, nodes):
            line = "  " * node.depth + node.role
            if "/Lang" in elem:
                line += f" [{elem.Lang}]"
            attrs = elem.get("/A")
            if attrs is not None:
                line += " {" + ", ".join(f"{k[1:]}={str(v).lstrip('/')}" for k, v in
                                         attrs.items() if k != "/O") + "}"
            if "/ActualText" in elem:
                line += f" actual={str(elem.ActualText)!r}"
            if "/Alt" in elem:
                line += f" alt={str(elem.Alt)!r}"
            if node.text:
                line += f" {node.text!r}"
            lines.append(line)
    return "\n".join(lines) + "\n"
