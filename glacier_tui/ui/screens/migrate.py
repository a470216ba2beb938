"""The Migrate screen (M on a vault or folder): destination, storage class, tier, the
cost plan of every tier against every storage class, then Start.

The screen only collects the choice; the main screen plans and runs the migration
through the service layer (the campaign engine with the migration sink, as
``glacier-tui migrate run`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from glacier_tui.glacier.migrate import STORAGE_CLASSES, MigrationError, parse_s3_url
from glacier_tui.glacier.migrate_cost import SizeSummary, migration_cost
from glacier_tui.glacier.pricing import S3_PRICES_AS_OF, TIERS, PriceTable
from glacier_tui.glacier.sanitize import inert


@dataclass(frozen=True)
class MigrateRequest:
    bucket: str
    prefix: str
    storage_class: str
    tier: str


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def cost_plan(prices: PriceTable, sizes: SizeSummary, transfer: str, tier: str,
              storage_class: str) -> str:
    """The one-off cost of each tier into each class (the chosen pair starred), then the
    storage a month and its minimum-duration commitment, with the price date."""
    classes = list(STORAGE_CLASSES)
    width = 15
    lines = [f"{'one-off':<10}" + "".join(f"{c:>{width}}" for c in classes)]
    unverified = False
    for t in TIERS:
        cells = []
        for c in classes:
            cost = migration_cost(prices, sizes, t, c, transfer)
            unverified |= cost.unverified
            mark = "*" if (t, c) == (tier, storage_class) else ""
            cells.append(f"{mark}{_usd(cost.one_off_usd)}")
        lines.append(f"{t:<10}" + "".join(f"{x:>{width}}" for x in cells))
    month = [migration_cost(prices, sizes, tier, c, transfer) for c in classes]
    lines.append(f"{'month':<10}" + "".join(f"{_usd(m.storage_month_usd):>{width}}"
                                            for m in month))
    lines.append(f"{'min. days':<10}" + "".join(f"{m.min_days:>{width}}" for m in month))
    mark = " UNVERIFIED" if unverified else ""
    lines.append(f"{sizes.archives:,} archive(s), {sizes.nbytes / 2**30:,.2f} GiB; "
                 f"{prices.region} prices as of {S3_PRICES_AS_OF}{mark}; transfer {transfer}")
    return "\n".join(lines)


class MigrateScreen(ModalScreen[MigrateRequest | None]):
    """Dismisses with the chosen destination and options, or None."""

    DEFAULT_CSS = """
    MigrateScreen { align: center middle; }
    MigrateScreen > Vertical { width: 78; height: auto; max-height: 100%;
        border: round $accent; padding: 0 1; background: $surface; }
    MigrateScreen Horizontal { height: auto; }
    MigrateScreen Select { width: 1fr; }
    MigrateScreen #migrate-plan { height: auto; margin: 1 0 0 0; }
    MigrateScreen #migrate-error { color: $error; height: auto; }
    MigrateScreen #migrate-buttons { align-horizontal: right; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="migrate_cancel"),
    ]

    def __init__(self, source: str, sizes: SizeSummary, prices: PriceTable, transfer: str, *,
                 destination: str = "", tier: str = "Bulk",
                 storage_class: str = "DEEP_ARCHIVE") -> None:
        super().__init__(id="migrate-screen")
        self._source = source
        self._sizes = sizes
        self._prices = prices
        self._transfer = transfer
        self._destination = destination
        self._tier = tier if tier in TIERS else "Bulk"
        self._class = storage_class if storage_class in STORAGE_CLASSES else "DEEP_ARCHIVE"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Migrate {inert(self._source)} to S3", markup=False)
            yield Input(self._destination, placeholder="s3://bucket/prefix",
                        id="migrate-destination")
            with Horizontal():
                yield Select([(c, c) for c in STORAGE_CLASSES], value=self._class,
                             allow_blank=False, id="migrate-class")
                yield Select([(t, t) for t in TIERS], value=self._tier, allow_blank=False,
                             id="migrate-tier")
            yield Static(self._plan(), id="migrate-plan", markup=False)
            yield Static("", id="migrate-error", markup=False)
            with Horizontal(id="migrate-buttons"):
                yield Button("Start", variant="primary", id="migrate-start")
                yield Button("Cancel", id="migrate-cancel")

    def _plan(self) -> str:
        return cost_plan(self._prices, self._sizes, self._transfer, self._tier, self._class)

    @on(Select.Changed)
    def _changed(self, event: Select.Changed) -> None:
        if event.select.id == "migrate-class":
            self._class = str(event.value)
        elif event.select.id == "migrate-tier":
            self._tier = str(event.value)
        self.query_one("#migrate-plan", Static).update(self._plan())

    @on(Button.Pressed, "#migrate-start")
    @on(Input.Submitted, "#migrate-destination")
    def action_start(self) -> None:
        url = self.query_one("#migrate-destination", Input).value.strip()
        try:
            bucket, prefix = parse_s3_url(url)
        except MigrationError as exc:
            self.query_one("#migrate-error", Static).update(
                inert(exc.message).replace("--to ", "destination "))
            return
        self.dismiss(MigrateRequest(bucket, prefix, self._class, self._tier))

    @on(Button.Pressed, "#migrate-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
