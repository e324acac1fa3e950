"""EntityTable: keyed, repaints only what changed, builds only the rows in view."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.strip import Strip

from console.ui.table import EntityTable


class Context:
    """The bits of PaneContext a table uses."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def open(self, ref: str) -> None:
        self.opened.append(ref)


class TableApp(App[None]):
    CSS = "EntityTable { height: 1fr; }"  # as in a pane

    def __init__(self) -> None:
        super().__init__()
        self.context = Context()

    def compose(self) -> ComposeResult:
        yield EntityTable(self.context, ("Key", "Value"))  # type: ignore[arg-type]


async def test_only_rows_in_view_are_built_and_scrolling_builds_more() -> None:
    app = TableApp()
    built: list[str] = []

    def row(key: str) -> list[Text]:
        built.append(key)
        return [Text(key), Text(str(len(key)))]

    keys = [f"gpu/n{i:04d}/0" for i in range(8000)]
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(EntityTable)
        table.sync_keys(keys, row)
        await pilot.pause()
        assert table.row_count == 8000
        assert len(set(built)) <= 40  # the first screenful, not 8,000 rows
        built.clear()
        await pilot.press("end")
        await pilot.pause()
        assert table.selected_ref == keys[-1]
        assert keys[-1] in built and keys[100] not in built


async def test_cursor_stays_on_its_row_when_rows_are_added_above() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(EntityTable)
        table.sync([(k, [Text(k)]) for k in ("b", "c", "d")])
        await pilot.press("down")
        assert table.selected_ref == "c"
        table.sync([(k, [Text(k)]) for k in ("a", "b", "c", "d")])
        assert table.selected_ref == "c"
        await pilot.press("enter")
        assert app.context.opened == ["c"]


async def test_filter_hides_rows_without_the_text() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 20)):
        table = app.query_one(EntityTable)
        table.filter_text = "LLAMA"
        table.sync([(k, [Text(k)]) for k in ("job/1 llama", "job/2 mixtral", "job/3 llama-ft")])
        assert [table.selected_ref, table.row_count] == ["job/1 llama", 2]


async def test_a_reorder_repaints_only_the_lines_whose_row_moved() -> None:
    # Over SSH a full repaint sends the blank area under the rows too: a screenful.
    app = TableApp()
    cells = {key: [Text(key), Text("1")] for key in ("a", "b", "c", "d", "e")}
    async with app.run_test(size=(40, 20)) as pilot:
        table = app.query_one(EntityTable)
        table.sync_keys(["a", "b", "c", "d", "e"], cells.__getitem__)
        await pilot.pause()
        painted: list[int] = []
        render_line = table.render_line

        def counted(y: int) -> Strip:
            painted.append(y)
            return render_line(y)

        table.render_line = counted  # type: ignore[method-assign]
        table.sync_keys(["a", "b", "d", "c", "e"], cells.__getitem__)  # c and d swap
        await pilot.pause()
        assert sorted(set(painted)) == [3, 4]  # rows 2 and 3, under the header line
        assert [table.get_row(k)[0].plain for k in table._keys] == ["a", "b", "d", "c", "e"]
        painted.clear()
        cells["b"] = [Text("b"), Text("2")]
        table.sync_keys(["a", "b", "d", "c", "e"], cells.__getitem__)  # one cell changed
        await pilot.pause()
        assert sorted(set(painted)) == [2]


class WideLastApp(App[None]):
    CSS = "EntityTable { height: 1fr; }"

    def __init__(self, fill_last: bool) -> None:
        super().__init__()
        self.fill_last = fill_last

    def compose(self) -> ComposeResult:
        yield EntityTable(Context(), ("Key", "Evidence"), fill_last=self.fill_last)  # type: ignore[arg-type]


async def test_a_last_column_that_fills_takes_the_room_it_has() -> None:
    evidence = "utilisation 100% of 400 Gb/s; " + "x" * 120  # 150 characters
    for width, fill_last, shown in (
        (200, True, 150),
        (100, True, 100 - 3 - 2 * 2),
        (200, False, 60),
    ):
        app = WideLastApp(fill_last)
        async with app.run_test(size=(width, 10)) as pilot:
            table = app.query_one(EntityTable)
            table.sync([("a", [Text("a"), Text(evidence)])])
            await pilot.pause()
            line = "".join(segment.text for segment in table.render_line(1))
            cut = line.split("a", 1)[1].strip()
            if shown == len(evidence):
                assert cut == evidence  # whole, at 200 columns
            else:
                assert len(cut) == shown and cut.endswith("…")  # to the edge, or at 60
