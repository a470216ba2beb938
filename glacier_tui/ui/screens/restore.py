"""The restore dialog: pick a tier (with time and cost), optional range, topic, description.

All rules live in :mod:`glacier_tui.ui.restore_model`; this screen only wires inputs
to them and refuses to confirm while any field is invalid. Costs come from the one price
table (:mod:`glacier_tui.glacier.pricing`), as the restore campaign engine computes them.
Enter on the tiers confirms the highlighted tier; space only picks it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet, Static

from glacier_tui.glacier.models import Tier
from glacier_tui.glacier.pricing import DEFAULT_PRICES, estimate
from glacier_tui.ui.formatting import clean, human_size
from glacier_tui.ui.restore_model import (
    TIER_TIMES,
    ArchiveRef,
    RestoreRequest,
    format_cost,
    parse_byte_range,
    validate_description,
    validate_sns_topic,
)

__all__ = ["ArchiveRef", "RestoreRequest", "RestoreScreen"]

_SHOWN_NAMES = 3


class TierSet(RadioSet):
    """The tiers: space picks the highlighted one, Enter confirms the dialog with it."""

    BINDINGS = [Binding("enter", "confirm_tier", "Restore", id="restore_confirm")]

    class Confirmed(Message):
        def __init__(self, tier: Tier) -> None:
            super().__init__()
            self.tier = tier

    def action_confirm_tier(self) -> None:
        index = self._selected
        tiers = list(Tier)
        if index is None or not 0 <= index < len(tiers):
            return
        self.action_toggle_button()
        self.post_message(self.Confirmed(tiers[index]))


class RestoreScreen(ModalScreen[RestoreRequest | None]):
    """Start archive retrievals; dismisses a RestoreRequest, or None on cancel."""

    DEFAULT_CSS = """
    RestoreScreen {
        align: center middle;
    }
    RestoreScreen > #dialog {
        width: 78;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        overflow-y: auto;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    RestoreScreen #title {
        text-style: bold;
    }
    RestoreScreen #names {
        color: $text-muted;
        height: auto;
        max-height: 3;
    }
    RestoreScreen RadioSet {
        width: 100%;
        margin-top: 1;
    }
    RestoreScreen .row {
        height: 1;
        margin-top: 1;
    }
    RestoreScreen .row Label {
        width: 24;
    }
    RestoreScreen .row Input {
        width: 1fr;
    }
    RestoreScreen #error {
        color: $text-error;
        height: auto;
        margin-top: 1;
    }
    RestoreScreen #buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    RestoreScreen #buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="restore_cancel")]

    def __init__(
        self,
        archives: Sequence[ArchiveRef],
        prices: Mapping[str, Mapping[str, float]],
        default_tier: str | Tier = Tier.STANDARD,
    ) -> None:
        super().__init__()
        self._archives = list(archives)
        self._prices = DEFAULT_PRICES.with_overrides(prices)
        try:
            self._default_tier = Tier(str(default_tier))
        except ValueError:
            self._default_tier = Tier.STANDARD
        self._total = sum(a.size for a in self._archives)

    # -- layout ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        count = len(self._archives)
        noun = "archive" if count == 1 else "archives"
        with Vertical(id="dialog"):
            yield Static(
                Text(f"Restore {count} {noun} ({human_size(self._total)})"), id="title"
            )
            yield Static(self._names_text(), id="names")
            with TierSet(id="tier"):
                for tier in Tier:
                    yield RadioButton(
                        self._tier_label(tier, self._total),
                        value=tier is self._default_tier,
                        id=f"tier-{tier.value}",
                    )
            if count == 1:
                with Horizontal(classes="row"):
                    yield Label("Byte range (optional)")
                    yield Input(
                        placeholder=f"start-end, whole: 0-{max(self._total - 1, 0)}",
                        id="range",
                        compact=True,
                    )
            with Horizontal(classes="row"):
                yield Label("SNS topic (optional)")
                yield Input(placeholder="arn:aws:sns:region:account:topic", id="sns",
                            compact=True)
            with Horizontal(classes="row"):
                yield Label("Description (optional)")
                yield Input(placeholder="up to 1024 ASCII characters", id="description",
                            compact=True, max_length=2048)
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Restore", id="confirm", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer(compact=True)  # the dialog's own keys, not the screen below's

    def on_mount(self) -> None:
        radios = self.query_one(RadioSet)
        # RadioSet highlights its first button; start on the default tier instead so
        # arrow keys move from what is shown as chosen.
        radios._selected = list(Tier).index(self._default_tier)
        radios.focus()

    def _names_text(self) -> Text:
        # Archive names are decoded from wire descriptions: plain Text only.
        text = Text()
        for i, archive in enumerate(self._archives[:_SHOWN_NAMES]):
            if i:
                text.append(", ")
            text.append(clean(archive.name or archive.archive_id[:16]))
            text.append(f" ({human_size(archive.size)})")
        more = len(self._archives) - _SHOWN_NAMES
        if more > 0:
            text.append(f", and {more} more")
        return text

    def _tier_label(self, tier: Tier, nbytes: int) -> Text:
        # Retrieval and requests (what the tier changes); egress depends on where it lands.
        est = estimate(self._prices, tier, len(self._archives), nbytes, endpoint_region=None,
                       machine_region=None)
        cost = est.retrieval_usd + est.requests_usd
        return Text(f"{tier.value:<10} {TIER_TIMES[tier]:>8}   est. {format_cost(cost)}")

    # -- validation ------------------------------------------------------------

    def _field(self, name: str) -> str:
        found = self.query(f"#{name}")
        return found.first(Input).value if found else ""

    def _validate(self) -> tuple[tuple[int, int] | None, list[str]]:
        errors: list[str] = []
        byte_range: tuple[int, int] | None = None
        if len(self._archives) == 1:
            byte_range, err = parse_byte_range(self._field("range"), self._archives[0].size)
            if err:
                errors.append(err)
        if err := validate_sns_topic(self._field("sns")):
            errors.append(err)
        if err := validate_description(self._field("description")):
            errors.append(err)
        return byte_range, errors

    def _refresh_view(self) -> tuple[tuple[int, int] | None, list[str]]:
        byte_range, errors = self._validate()
        self.query_one("#error", Static).update(Text("\n".join(errors)))
        # The estimate follows the range: a partial retrieval costs only its bytes.
        nbytes = self._total if byte_range is None else byte_range[1] - byte_range[0] + 1
        for tier in Tier:
            self.query_one(f"#tier-{tier.value}", RadioButton).label = self._tier_label(
                tier, nbytes
            )
        return byte_range, errors

    @on(Input.Changed)
    def _input_changed(self) -> None:
        self._refresh_view()

    # -- actions ---------------------------------------------------------------

    def _selected_tier(self) -> Tier:
        pressed = self.query_one(RadioSet).pressed_button
        if pressed is None or pressed.id is None:
            return self._default_tier
        return Tier(pressed.id.removeprefix("tier-"))

    @on(TierSet.Confirmed)
    def _tier_confirmed(self, message: TierSet.Confirmed) -> None:
        self._confirm(message.tier)

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        self._confirm(None)

    def _confirm(self, tier: Tier | None) -> None:
        byte_range, errors = self._refresh_view()
        if errors:
            self.app.bell()
            return
        self.dismiss(
            RestoreRequest(
                tier=tier or self._selected_tier(),
                byte_range=byte_range,
                sns_topic=self._field("sns").strip() or None,
                description=self._field("description") or None,
                archives=list(self._archives),
            )
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
