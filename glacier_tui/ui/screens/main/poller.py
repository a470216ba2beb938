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
from glacier_tui.ui.screens.main.part import Part


class Polling(Part):
    """Run the poller's cycles while the screen is on top."""

    def __init__(self) -> None:
        super().__init__()
        # The refresh schedule (ui/poller.py); cycles run only while the screen is on top.
        self.poller = Poller(interval=lambda: self.gapp.poll_interval, set_timer=self.set_timer,
                             start_cycle=self._run_cycle,
                             paused=lambda: self.app.screen is not self.screen)

    @property
    def cycles(self) -> int:
        return self.poller.cycles

    @property
    def running(self) -> bool:
        return self.poller.running

    @property
    def failures(self) -> int:
        return self.poller.failures

    def arm(self, delay: float) -> None:
        self.poller.arm(delay)

    def _run_cycle(self, full: bool) -> None:
        # Read from the table here, on the UI loop: the worker reads no widget.
        self.poller.targets = sorted(self.vaults_to_poll)
        self.run_worker(self._poll_cycle(full, self.gapp.poll_interval), group="poll",
                        exit_on_error=False)

    async def _poll_cycle(self, full: bool, interval: float) -> None:
        """One cycle; the PollDone handler re-arms, so cycles never overlap."""
        from glacier_tui.glacier.errors import Throttling

        poller = self.poller
        main = self.main
        delay = interval
        try:
            client = self.gapp.client
            if client is None:
                return
            if full:
                vaults = await self.gapp.poll_call(lambda c: c.list_vaults())
                await main.connection.post_vaults(vaults)
                await main.jobs.load([v.name for v in vaults], complete=True)
            else:
                await main.jobs.load(list(poller.targets), complete=True)
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
    def vaults_to_poll(self) -> set[str]:
        return self.main.job_table.live_vaults()

    def on_poll_done(self, message: PollDone) -> None:
        self.poller.cycle_done()
        now = self.gapp.clock()
        main = self.main
        main.job_table.refresh_times(now)
        main.vault_tree.refresh_labels(now)
        main.detail_pane.now = now
        if self.is_attached:
            self.arm(message.next_delay)

    def refresh_now(self) -> None:
        """R: a full cycle now (or connect, when not connected)."""
        if self.gapp.client is None:
            self.main.connection.start()
            return
        if self.poller.running:
            return
        self.notify("Refreshing…", timeout=2)
        self.poller.fire(force_full=True)
