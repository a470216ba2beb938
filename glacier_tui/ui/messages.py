"""Messages posted by workers. Workers never touch widgets; handlers render (Harlequin style)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.notifications import SeverityLevel

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Job, Vault


class Connected(Message):
    def __init__(self, endpoint: str, region: str) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.region = region


class ConnectFailed(Message):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class VaultsLoaded(Message):
    def __init__(self, vaults: list[Vault]) -> None:
        super().__init__()
        self.vaults = vaults


class JobsLoaded(Message):
    """Jobs of some vaults; ``complete`` means each listed vault's listing is whole."""

    def __init__(
        self, jobs: list[Job], vaults: list[str], names: dict[str, str], *, complete: bool
    ) -> None:
        super().__init__()
        self.jobs = jobs
        self.vaults = vaults
        self.names = names
        self.complete = complete


class JobStarted(Message):
    """A job initiated from this app (restore or inventory)."""

    def __init__(self, job: Job, name: str, *, auto: bool) -> None:
        super().__init__()
        self.job = job
        self.name = name
        self.auto = auto


class Notice(Message):
    """A toast to show: a success ("information"), a warning or an error.

    ``severity`` is shown as given: typed, so a wrong name is a type error rather
    than a success painted as a failure.
    """

    def __init__(self, text: str, *, title: str = "", severity: SeverityLevel = "information"
                 ) -> None:
        super().__init__()
        self.text = text
        self.title = title
        self.severity: SeverityLevel = severity


class OperationError(Notice):
    """A failure to show on screen (never a crash)."""

    def __init__(self, text: str, *, title: str = "Error", severity: SeverityLevel = "error"
                 ) -> None:
        super().__init__(text, title=title, severity=severity)


class Info(Message):
    def __init__(self, text: str, *, title: str = "") -> None:
        super().__init__()
        self.text = text
        self.title = title


class PollDone(Message):
    def __init__(self, next_delay: float) -> None:
        super().__init__()
        self.next_delay = next_delay


@dataclass
class TransferRow:
    """What the Transfers panel shows for one transfer (download, upload or deletion).

    ``state`` is a value of the service layer's ``TransferState`` (the one transfer
    state), folded to what a row tells: queued and verifying show as running.
    """

    id: str
    kind: str
    name: str
    total: int | None = None
    done: int = 0
    rate_bps: float | None = None
    eta_s: float | None = None
    state: str = "running"  # a TransferState value: running | done | failed | cancelled
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # The local file written or read (what ``y`` copies); progress rows may leave it
    # empty: the panel keeps the one it was given first.
    target: str = ""


    @classmethod
    def from_progress(cls, tid: str, name: str, kind: str, progress: Any) -> TransferRow:
        """The row for a service-layer ``TransferProgress`` report."""
        state = str(getattr(progress.state, "value", progress.state))
        if state in ("queued", "verifying"):
            state = "running"
        return cls(id=tid, kind=kind, name=name, total=progress.total or None,
                   done=progress.done, rate_bps=progress.rate_bps, eta_s=progress.eta_s,
                   state=state, message=progress.message)


# The former name of TransferRow, for code written against it (one class, two names
# until that code is renamed; the service layer's TransferState is the transfer state).
TransferState = TransferRow


class TransferUpdate(Message):
    def __init__(self, state: TransferRow) -> None:
        super().__init__()
        self.state = state


class InventoryImported(Message):
    def __init__(self, vault: str, count: int) -> None:
        super().__init__()
        self.vault = vault
        self.count = count


class VaultSettingsLoaded(Message):
    def __init__(self, vault: str, summary: list[tuple[str, str]]) -> None:
        super().__init__()
        self.vault = vault
        self.summary = summary


class VaultsChanged(Message):
    """A vault was created or deleted: reload the vault list."""


class InventoryFlags(Message):
    """Which vaults have a cached inventory (read from the store in a thread)."""

    def __init__(self, flags: dict[str, bool]) -> None:
        super().__init__()
        self.flags = flags


class InventoryPending(Message):
    def __init__(self, vault: str) -> None:
        super().__init__()
        self.vault = vault


class ArchivesRemoved(Message):
    """Archives deleted here were dropped from the vault's cached inventory."""

    def __init__(self, vault: str, count: int) -> None:
        super().__init__()
        self.vault = vault
        self.count = count


class CampaignListed(Message):
    """Restore campaigns read from the store (``resume``: this app should run them)."""

    def __init__(self, infos: list[Any], resume: list[int], job_ids: frozenset[str], *,
                 planned: bool, migrations: dict[int, Any] | None = None) -> None:
        super().__init__()
        self.infos = infos  # CampaignInfo
        self.resume = resume
        self.job_ids = job_ids
        self.planned = planned  # just planned here (a "started" milestone), else found
        self.migrations = migrations or {}  # campaign id -> MigrationRow, for migrations


class CampaignProgressed(Message):
    def __init__(self, progress: Any) -> None:  # CampaignProgress
        super().__init__()
        self.progress = progress


class CampaignItemChanged(Message):
    def __init__(self, campaign_id: int, vault: str, item: Any) -> None:  # CampaignItem
        super().__init__()
        self.campaign_id = campaign_id
        self.vault = vault
        self.item = item


class CampaignStopped(Message):
    """A campaign runner returned (``info``) or failed (``error``, one safe line)."""

    def __init__(self, campaign_id: int, info: Any, error: str = "", *,
                 busy: bool = False) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.info = info  # CampaignInfo | None
        self.error = error
        self.busy = busy  # another process runs it


class PurgeListed(Message):
    """Close-outs read from the store at start-up (shown, not resumed)."""

    def __init__(self, infos: list[Any]) -> None:  # PurgeInfo
        super().__init__()
        self.infos = infos


class PurgeProgressed(Message):
    def __init__(self, progress: Any) -> None:  # PurgeProgress
        super().__init__()
        self.progress = progress


class PurgeStopped(Message):
    """A close-out's runner returned (``info``), failed (``error``, one safe line) or was
    stopped here (``interrupted``: paused in the store, P on the vault resumes it)."""

    def __init__(self, purge_id: int, vault: str, info: Any, error: str = "", *,
                 interrupted: bool = False) -> None:
        super().__init__()
        self.purge_id = purge_id
        self.vault = vault
        self.info = info  # PurgeInfo | None
        self.error = error
        self.interrupted = interrupted


class CampaignJobs(Message):
    def __init__(self, campaign_id: int, job_ids: frozenset[str]) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.job_ids = job_ids



class ReadyFound(Message):
    """Retrievals of a selection ready to download; how many a campaign fetches (``owned``)
    or has verified on disk already (``restored``)."""

    def __init__(self, jobs: list[Job], selected: int, owned: int, restored: int) -> None:
        super().__init__()
        self.jobs = jobs
        self.selected = selected
        self.owned = owned
        self.restored = restored
