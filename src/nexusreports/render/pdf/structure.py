"""Where each part of a sheet sits in its structure tree: the paths of :class:`~.tagging.Step`
s the sheet's flowables are tagged with (see :mod:`.tagging`).

The tree of a sheet, in reading order::

    Document
      H1 project title            P domain
      P "Project name" (the label, ActualText in its own case)   P name  P domain  P sub-domain
      P summary...  H2 relevance  P...
      H2 collaborations  P entry | L > LI > (Lbl bullet, LBody entry)
      Table (key figures): TR > (TH label, Scope Row, ActualText the label;
                                 TD figure, ActualText the figure in words where it is drawn)
      H2 preconditions  L legend > LI > LBody
      H3 group  Table > TR > (TH item, Scope Row; TD > Figure, Alt the state in words)
      H2 organisations  P names | L > LI > LBody name (the logos are artifacts: the name is
                                                       printed under each)

Footers are ``Pagination`` artifacts; bands, bars, rules, markers of the legend, the
timeline's line and labels are artifacts.  Every word here (``actual``, ``alt``) is passed in
from the view.
"""

from __future__ import annotations

from functools import lru_cache

from .tagging import Step

# Each path is made once per distinct arguments (a sheet asks for about 200 steps, mostly the
# same ones as every other sheet: steps are immutable, so sheets share them)
_cached = lru_cache(maxsize=256)

_ROW = (("Scope", "Row"),)


@_cached
def list_item(field: str) -> tuple[Step, ...]:
    """A bulleted collaboration entry: one list per block."""
    return (Step("L", key=field), Step("LI"))


@_cached
def panel_label(row: str, label: str) -> tuple[Step, ...]:
    """The label of a key figure: a row header whose ActualText is the label as the view
    has it (the panel prints it in capitals)."""
    return (Step("Table", key="panel"), Step("TR", key=row),
            Step("TH", key="h", actual=label, attrs=_ROW))


@_cached
def panel_figure(row: str, spoken: str | None = None) -> tuple[Step, ...]:
    """The figure of a key-figures row; ``spoken``: its words where it is drawn."""
    return (Step("Table", key="panel"), Step("TR", key=row),
            Step("TD", key="d", actual=spoken, order=1))


@_cached
def spoken(text: str) -> tuple[Step, ...]:
    """A drawn figure inside a cell (a share bar), read as ``text``."""
    return (Step("P", actual=text),)


@_cached
def legend_item() -> tuple[Step, ...]:
    return (Step("L", key="legend"), Step("LI"))


@_cached
def matrix_item(group: int, item: int) -> tuple[Step, ...]:
    """A precondition's name: the row header of its row in its group's table."""
    return (Step("Table", key=f"matrix-{group}"), Step("TR", key=str(item)),
            Step("TH", key="h", attrs=_ROW))


def matrix_state(group: int, item: int, state) -> tuple[Step, ...]:
    """A precondition's marker: a Figure whose Alt is the state in words."""
    return _matrix_state(group, item, state.state_label)


@_cached
def _matrix_state(group: int, item: int, label: str) -> tuple[Step, ...]:
    return (Step("Table", key=f"matrix-{group}"), Step("TR", key=str(item)),
            Step("TD", key="d", order=1), Step("Figure", alt=label))


@_cached
def organisation() -> tuple[Step, ...]:
    return (Step("L", key="organisations"), Step("LI"))


__all__ = ["legend_item", "list_item", "matrix_item", "matrix_state", "organisation",
           "panel_figure", "panel_label", "spoken"]
