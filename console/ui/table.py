"""A keyed table on Textual's Line API: cheap to update every second, at fleet size.

Textual's ``DataTable`` re-renders every row when any cell changes. Here each
row is rendered once into a cached strip and only rows whose cells changed are
repainted, so a refresh costs (and sends over SSH) what actually moved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.api import PaneContext

MAX_ROWS = 100_000
"""Rows one table shows at most; past that the user narrows with ``/``."""
MAX_COLUMN_WIDTH = 60
GAP = 2
"""Spaces between columns."""


def moved_rows(before: Sequence[str], after: Sequence[str], lines: range) -> list[int]:
    """Row indexes in ``lines`` that show another key than before, or none now."""
    end = min(lines.stop, max(len(before), len(after)))
    return [i for i in range(lines.start, end)
            if i >= len(before) or i >= len(after) or before[i] != after[i]]  # fmt: skip


class EntityTable(ScrollView, can_focus=True):
    """Rows keyed by ref, updated in place: the cursor and scroll never jump.

    ``Enter`` on a row opens its ref (unless the table is not ``openable``).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_row", "Open"),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"entity-table--header", "entity-table--cursor"}
    DEFAULT_CSS = """
    EntityTable { height: auto; max-height: 100%; background: $surface; }
    EntityTable > .entity-table--header { text-style: bold; background: $panel; }
    EntityTable > .entity-table--cursor { background: $boost; }
    EntityTable:focus > .entity-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
        text-style: bold;
    }
    """

    cursor_row: reactive[int] = reactive(0, repaint=False)
    """Index of the highlighted row among the shown rows."""

    def __init__(
        self,
        context: PaneContext,
        columns: Sequence[str],
        openable: bool = True,
        on_open: Callable[[str], None] | None = None,
        fill_last: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fill_last = fill_last
        """Whether the last column may be wider than :data:`MAX_COLUMN_WIDTH`: as wide as
        the room the others leave (a cause's evidence reads whole on a wide terminal)."""
        self.on_open = on_open
        """Called with the row key on ``Enter`` instead of opening it as a ref."""
        self.context = context
        """Where ``Enter`` sends the selected ref."""
        self.column_names = list(columns)
        """Column headers, in order."""
        self.openable = openable
        """Whether row keys are refs that ``Enter`` opens."""
        self.filter_text = ""
        """Rows whose text does not contain this (case-insensitive) are hidden."""
        self._keys: list[str] = []
        self._cells: dict[str, Sequence[Text]] = {}
        self._versions: dict[str, int] = {}
        self._widths: list[int] = [len(name) for name in self.column_names]
        self._strips: dict[object, tuple[tuple[object, ...], Strip]] = {}
        # One rendered strip per row (and the header), kept with what it was made
        # from: a row that changed replaces its strip, so the cache never outgrows
        # the table however long the console runs.
        self._row_builder: Callable[[str], Sequence[Text]] = lambda key: ()

    # -- data ----------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows shown now (after the filter)."""
        return len(self._keys)

    @property
    def row_keys(self) -> list[str]:
        """The keys of the rows shown now, in order."""
        return list(self._keys)

    def get_row(self, key: str) -> list[Text]:
        """The cells of one shown row."""
        return list(self._cells_of(key))

    @property
    def selected_ref(self) -> str | None:
        """The key of the row under the cursor."""
        return self._keys[self.cursor_row] if 0 <= self.cursor_row < len(self._keys) else None

    def set_columns(self, columns: Sequence[str]) -> None:
        """Show these columns (the first cells of each row; extra cells are not shown)."""
        if list(columns) == self.column_names:
            return
        self.column_names = list(columns)
        self._update_widths()
        self._strips.clear()
        self.refresh()

    def _visible(self, cells: Sequence[Text]) -> bool:
        if not self.filter_text:
            return True
        needle = self.filter_text.lower()
        return any(needle in cell.plain.lower() for cell in cells)

    def sync(self, rows: Iterable[tuple[str, Sequence[Text]]]) -> None:
        """Show exactly these rows, in this order, repainting only what changed."""
        cells = dict(rows)
        self.sync_keys(list(cells), cells.__getitem__)

    def sync_keys(self, keys: Sequence[str], render: Callable[[str], Sequence[Text]]) -> None:
        """Show these rows, building cells only for the rows in view.

        For fleet-sized tables: ``render(key)`` is called for the visible rows now
        and for other rows only when they scroll into view (or when filtering).
        """
        self._row_builder = render
        if self.filter_text:
            keys = [key for key in keys if self._visible(render(key))]
        keys = list(keys[:MAX_ROWS])
        selected = self.selected_ref
        before = self._keys
        reordered = keys != before
        if reordered:
            self._keys = keys
            shown = set(keys)  # rows that went away are forgotten (memory stays flat)
            self._versions = {k: v for k, v in self._versions.items() if k in shown}
            self._strips = {k: v for k, v in self._strips.items() if k in shown or k == "header"}
            if selected in keys:
                self.cursor_row = keys.index(selected)
            self.cursor_row = min(self.cursor_row, max(0, len(keys) - 1))
        changed: list[int] = []
        window = set(self._window())
        for index in sorted(window):
            key = keys[index]
            cells = render(key)
            if self._cells.get(key) != cells:
                self._cells[key] = cells
                self._versions[key] = self._versions.get(key, 0) + 1
                changed.append(index)
        in_view = {keys[index] for index in window}
        for key in [k for k in self._cells if k not in in_view]:
            del self._cells[key]  # out of view: rebuilt fresh when it scrolls in
        if self._update_widths():
            self.refresh()
            return
        if reordered:
            # Only the lines that now show another row (or none), not the whole table:
            # its blank area under the rows is most of a screen over SSH.
            top = int(self.scroll_offset.y)
            changed += moved_rows(before, keys, range(top, top + self.size.height))
        for index in sorted(set(changed)):
            self._refresh_row(index)

    def _window(self) -> range:
        """Indexes of the rows in view (before the first layout: as many as the terminal
        has lines, never more: a pane opening on a fleet builds one screenful)."""
        height = self.size.height or self.app.size.height
        top = int(self.scroll_offset.y)
        return range(top, min(len(self._keys), top + height))

    def _update_widths(self) -> bool:
        """Fit the columns to the cells known now; True when they changed."""
        widths = [len(name) for name in self.column_names]
        longest = 0  # of the last column's cells
        for cells in self._cells.values():
            for column, cell in enumerate(cells[: len(widths)]):
                widths[column] = max(widths[column], min(MAX_COLUMN_WIDTH, cell.cell_len))
            if self.fill_last and len(cells) >= len(widths):
                longest = max(longest, cells[len(widths) - 1].cell_len)
        if self.fill_last and widths:
            room = self.size.width - sum(widths[:-1]) - GAP * len(widths)
            widths[-1] = max(widths[-1], min(longest, room))
        self.virtual_size = Size(sum(widths) + GAP * len(widths), len(self._keys) + 1)
        if widths == self._widths:
            return False
        self._widths = widths
        self._strips.clear()
        return True

    def _cells_of(self, key: str) -> Sequence[Text]:
        cells = self._cells.get(key)
        if cells is None:
            cells = self._cells[key] = self._row_builder(key)
            self._versions[key] = self._versions.get(key, 0) + 1
            if self._update_widths():
                self.call_after_refresh(self.refresh)
        return cells

    def on_resize(self) -> None:
        if self.fill_last and self._update_widths():
            self.refresh()  # the last column takes the room it has now

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.refresh()  # rows scrolling in are built by render_line

    # -- rendering -----------------------------------------------------------

    def _refresh_row(self, index: int) -> None:
        # Row i is virtual line i + 1 (under the header); lines out of view are clipped.
        self.refresh_lines(index + 1)

    def _line_text(self, cells: Sequence[Text]) -> Text:
        line = Text(no_wrap=True, end="")
        for column, width in enumerate(self._widths):
            cell = cells[column].copy() if column < len(cells) else Text()
            cell.truncate(width, overflow="ellipsis", pad=True)
            line.append(" " * (GAP // 2))
            line.append_text(cell)
            line.append(" " * (GAP - GAP // 2))
        return line

    def _strip(self, key: tuple[object, ...], text: Text, style: Style) -> Strip:
        cached = self._strips.get(key[0])
        if cached is not None and cached[0] == key:
            return cached[1]
        segments = [Segment(s.text, style + s.style if s.style else style)
                    for s in text.render(self.app.console)]  # fmt: skip
        strip = Strip(segments)
        if len(self._strips) > 2 * MAX_ROWS:
            self._strips.clear()
        self._strips[key[0]] = (key, strip)
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = int(self.scroll_offset.x)
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("entity-table--header")
            text = self._line_text([Text(name) for name in self.column_names])
            strip = self._strip(("header", tuple(self._widths)), text, base + header)
            return strip.crop_extend(scroll_x, scroll_x + width, base + header)
        index = y - 1 + int(self.scroll_offset.y)
        if index >= len(self._keys):
            return Strip.blank(width, base)
        key = self._keys[index]
        is_cursor = index == self.cursor_row
        style = base
        if is_cursor:
            style = base + self.get_component_rich_style("entity-table--cursor")
        cache_key = (key, self._versions.get(key, 0), is_cursor, self.has_focus)
        strip = self._strip(cache_key, self._line_text(self._cells_of(key)), style)
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    # -- cursor and actions --------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._refresh_row(new)
        top = int(self.scroll_offset.y)
        visible = max(1, self.size.height - 1)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + visible:
            self.scroll_to(y=new - visible + 1, animate=False)

    def _on_focus(self, event: events.Focus) -> None:
        self._refresh_row(self.cursor_row)

    def _on_blur(self, event: events.Blur) -> None:
        self._refresh_row(self.cursor_row)

    def on_click(self, event: events.Click) -> None:
        index = event.y - 1 + int(self.scroll_offset.y)
        if event.y >= 1 and 0 <= index < len(self._keys):
            self.cursor_row = index
            if event.chain == 2:
                self.action_open_row()

    def move_to_top(self) -> None:
        """Put the cursor on the first row and scroll there."""
        self.cursor_row = 0
        self.scroll_to(y=0, animate=False)

    def action_cursor(self, step: int) -> None:
        if self._keys:
            self.cursor_row = max(0, min(len(self._keys) - 1, self.cursor_row + step))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_edge(self, direction: int) -> None:
        if self._keys:
            self.cursor_row = 0 if direction < 0 else len(self._keys) - 1

    def action_open_row(self) -> None:
        ref = self.selected_ref
        if ref is None or not self.openable:
            return
        if self.on_open is not None:
            self.on_open(ref)
        else:
            self.context.open(ref)
