"""The poller: one refresh cycle at a time, in a one-shot worker re-armed with a timer.

A cycle lists the jobs of the vaults with unfinished jobs; every few cycles (or on R) a
full cycle lists the vaults and all their jobs. Throttling and errors back the next cycle
off. The PollDone handler re-arms, so cycles never overlap; under a modal the poller waits.
"""

from __future__ import annotations

from glacier_tui.ui.formatting import user_message
from glacier_tui.ui.messages import OperationError, PollDone
from glacier_tui.ui.screens.main.base import MainScreenBase
from glacier_tui.ui.widgets.detail_pane import DetailPane
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.vault_tree import VaultTree


class PollerMixin(MainScreenBase):
    """Poll the service while the screen is on top."""

    def _arm_poll(self, delay: float) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_timer = self.set_timer(delay, self._start_poll)

    def _start_poll(self, force_full: bool = False) -> None:
        self._poll_timer = None
        if self.poll_running:
            return
        # Paused while a modal (or the error screen) is on top: re-arm and wait.
        if self.app.screen is not self and not force_full:
            self._arm_poll(self.gapp.poll_interval)
            return
        self.poll_running = True
        self.poll_cycles += 1
        interval = self.gapp.poll_interval
        full_every = 10 if interval < 10 else 5
        full = force_full or self.poll_cycles % full_every == 0
        self.run_worker(self._poll_cycle(full, interval), group="poll", exit_on_error=False)

    async def _poll_cycle(self, full: bool, interval: float) -> None:
        """One cycle; the PollDone handler re-arms, so cycles never overlap."""
        from glacier_tui.glacier.errors import Throttling

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
                await self._load_jobs(sorted(self._vaults_to_poll), complete=True)
            self.poll_failures = 0
        except Throttling:
            self.poll_failures += 1
            delay = min(interval * 2 ** self.poll_failures, 600.0)
            self.post_message(OperationError(f"Glacier is throttling; next poll in {delay:.0f}s",
                                             title="Throttled", severity="warning"))
        except Exception as exc:
            self.poll_failures += 1
            delay = min(interval * 2 ** min(self.poll_failures, 4), 600.0)
            text = user_message(exc)
            if text != self._last_poll_error:  # one toast per distinct failure
                self._last_poll_error = text
                self.post_message(OperationError(text, title="Refresh failed",
                                                 severity="warning"))
        finally:
            self.post_message(PollDone(delay))

    @property
    def _vaults_to_poll(self) -> set[str]:
        table = self.query_one(JobTable)
        return {j.vault_name for j in table.jobs.values() if not j.completed}

    def on_poll_done(self, message: PollDone) -> None:
        self.poll_running = False
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
        if self.poll_running:
            return
        self.notify("Refreshing…", timeout=2)
        self._start_poll(force_full=True)
