"""The main screen's side of the poller: the refresh cycle itself and its messages.

The schedule (when, how often, back-off, never two cycles at once) is the
:class:`~glacier_tui.ui.poller.Poller`, which has no Textual in it. A cycle lists the jobs
of the vaults with unfinished jobs; every few cycles (or on R) a full cycle lists the
vaults and all their jobs. The PollDone handler re-arms, so cycles never overlap.
"""

from __future__ import annotations

from glacier_tui.ui.formatting import user_message
from glacier_tui.ui.messages import OperationError, PollDone
from glacier_tui.ui.poller import Poller
from glacier_tui.ui.screens.main.base import MainScreenBase
from glacier_tui.ui.widgets.detail_pane import DetailPane
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.vault_tree import VaultTree


class PollerMixin(MainScreenBase):
    """Run the poller's cycles while the screen is on top."""

    def _make_poller(self) -> Poller:
        return Poller(interval=lambda: self.gapp.poll_interval, set_timer=self.set_timer,
                      start_cycle=self._run_cycle,
                      paused=lambda: self.app.screen is not self)

    @property
    def poll_cycles(self) -> int:
        return self.poller.cycles

    @property
    def poll_running(self) -> bool:
        return self.poller.running

    @property
    def poll_failures(self) -> int:
        return self.poller.failures

    def _arm_poll(self, delay: float) -> None:
        self.poller.arm(delay)

    def _run_cycle(self, full: bool) -> None:
        # Read from the table here, on the UI loop: the worker reads no widget.
        self.poller.targets = sorted(self._vaults_to_poll)
        self.run_worker(self._poll_cycle(full, self.gapp.poll_interval), group="poll",
                        exit_on_error=False)

    async def _poll_cycle(self, full: bool, interval: float) -> None:
        """One cycle; the PollDone handler re-arms, so cycles never overlap."""
        from glacier_tui.glacier.errors import Throttling

        poller = self.poller
        delay = interval
        try:
            client = self.gapp.client
            if client is None:
                return
            if full:
                vaults = await self.gapp.poll_call(lambda c: c.list_vaults())
                await self._post_vaults(vaults)
                await self._load_jobs([v.name for v in vaults], complete=True)
            else:
                await self._load_jobs(list(poller.targets), complete=True)
            delay = poller.succeeded()
        except Throttling:
            delay = poller.throttled()
            self.post_message(OperationError(f"Glacier is throttling; next poll in {delay:.0f}s",
                                             title="Throttled", severity="warning"))
        except Exception as exc:
            text = user_message(exc)
            delay, tell = poller.failed(text)
            if tell:  # one toast per distinct failure
                self.post_message(OperationError(text, title="Refresh failed",
                                                 severity="warning"))
        finally:
            self.post_message(PollDone(delay))

    @property
    def _vaults_to_poll(self) -> set[str]:
        return self.query_one(JobTable).live_vaults()

    def on_poll_done(self, message: PollDone) -> None:
        self.poller.cycle_done()
        now = self.gapp.clock()
        self.query_one(JobTable).refresh_times(now)
        self.query_one(VaultTree).refresh_labels(now)
        self.query_one(DetailPane).now = now
        if self.is_attached:
            self._arm_poll(message.next_delay)

    def action_refresh(self) -> None:
        if self.gapp.client is None:
            self.start_connect()
            return
        if self.poller.running:
            return
        self.notify("Refreshing…", timeout=2)
        self.poller.fire(force_full=True)
