"""Campaigns: start a restore from the selection, run the engine, show it live.

The engine (:mod:`glacier_tui.glacier.campaigns`) does the work and keeps its state in
the store; this part plans a restore campaign from the marks, runs the engine's runner
in a worker (the same runner ``glacier-tui restore`` runs; for a migration, the one
``migrate.migration_runner`` builds with its S3 sink, as ``glacier-tui migrate run``),
so a campaign left running when the app quit is resumed at the next start. It turns the
typed progress callbacks into messages and renders them: the Restores screen (``c``,
with the close-out part's rows), the archive list's state column, one notification per
milestone (never one per job). What a campaign is (restore or migration) comes from the
store.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from textual import work

from glacier_tui.glacier.sanitize import inert
from glacier_tui.ui.campaign_board import CampaignBoard
from glacier_tui.ui.messages import (
    CampaignItemChanged,
    CampaignJobs,
    CampaignListed,
    CampaignProgressed,
    CampaignStopped,
    Info,
    OperationError,
)
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.screens.restores import show_row
from glacier_tui.ui.widgets.close_out_row import PurgeRow
from glacier_tui.ui.widgets.restores_panel import CampaignRow
from glacier_tui.ui.widgets.vault_tree import NodeData, vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.campaign_view import Milestone
    from glacier_tui.glacier.campaigns import (
        CampaignInfo,
        CampaignItem,
        CampaignProgress,
        EngineOptions,
    )
    from glacier_tui.glacier.pricing import PriceTable
    from glacier_tui.ui.restore_model import RestoreRequest

# Campaign states whose archives the engine downloads by itself while it runs.
ENGINE_OWNED = frozenset({"requested", "ready", "downloading"})
# Store journal key prefix: a campaign this app runs until it ends. Quitting leaves the
# key (the engine marks the campaign paused, "interrupted"), so the next start resumes it;
# a campaign paused on purpose (request, budget) or by a fatal error is not resumed.
AUTORUN_KEY = "campaign-autorun:"


class Campaigns(Part):
    """Plan, run and show campaigns (restores, and migrations planned by ``migrate``)."""

    def __init__(self) -> None:
        super().__init__(id="campaigns-part")
        # Rows, runners, their jobs, milestones (ui/campaign_board.py).
        self.board = CampaignBoard()

    # -- configuration ---------------------------------------------------------------------

    def _prices(self) -> PriceTable:
        """The one price table with the user's overrides (as the CLI uses it)."""
        table: PriceTable = self.gapp.settings.price_table()
        return table

    def _egress(self) -> bool:
        """Whether downloads pay internet egress (as the engine decides it)."""
        machine = self.gapp.settings.machine_region
        client = self.gapp.client
        region = client.region if client is not None else self.gapp.settings.region
        return not machine or machine != region

    def _engine_options(self) -> EngineOptions:
        from glacier_tui.glacier.campaigns import EngineOptions

        settings = self.gapp.settings
        clock = self.gapp.clock
        return EngineOptions(
            poll_interval=self.gapp.poll_interval,
            segment_concurrency=settings.transfer_concurrency,
            segment_size=settings.segment_size_mib * 1024 * 1024,
            prices=self._prices(),
            machine_region=settings.machine_region,
            clock=lambda: clock().timestamp(),
        )

    # -- starting --------------------------------------------------------------------------

    def start(self, selection: list[NodeData], request: RestoreRequest,
              single_archive: bool) -> None:
        """Plan one campaign per vault of the selection and run each."""
        self.run_worker(self._plan(selection, request, single_archive), group="restore",
                        exit_on_error=False)

    async def _plan(self, selection: list[NodeData], request: RestoreRequest,
                    single_archive: bool) -> None:
        """One campaign per vault of the selection, planned in a thread."""
        from glacier_tui.glacier.campaign_view import selections_for
        from glacier_tui.glacier.campaigns import CampaignError, CampaignSpec, plan_campaign
        from glacier_tui.ui.screens.main.restore import selected

        store = self.gapp.store
        keys = {name: vault_key(v) for name, v in self.main.connection.vaults.items()}
        selections = await asyncio.to_thread(selections_for, store, selected(selection), keys)
        planned: list[CampaignInfo] = []
        for vault, sel in selections.items():
            spec = CampaignSpec(
                vault=vault, vault_key=keys[vault], selection=sel, tier=str(request.tier),
                destination=self.gapp.download_dir,
                byte_range=request.byte_range if single_archive else None)
            try:
                planned.append(await asyncio.to_thread(plan_campaign, store, spec))
            except CampaignError as exc:
                self.post_message(OperationError(exc.user_message(),
                                                 title=f"Restore from {inert(vault)}"))
        if planned:
            self.post_message(CampaignListed(planned, [i.id for i in planned], frozenset(),
                                             planned=True))

    def find(self) -> None:
        """At start-up: list the campaigns (and the close-outs); resume those left running."""
        self._find()
        self.main.close_out.find()

    # @work defers the call: an app closed before it starts leaves no coroutine behind.
    @work(group="campaigns-find", exclusive=True, exit_on_error=False)
    async def _find(self) -> None:
        """At start-up: show every campaign; resume those left running (the engine resumes).

        Migrations too: their S3 sink is rebuilt from the store when their runner starts.
        """
        from glacier_tui.glacier import migrate_store
        from glacier_tui.glacier.campaign_view import campaign_job_ids
        from glacier_tui.glacier.campaigns import CampaignStatus, list_campaigns

        store = self.gapp.store

        def read() -> tuple[list[CampaignInfo], list[int], frozenset[str], dict[int, Any]]:
            infos = list_campaigns(store)
            autorun = {key.removeprefix(AUTORUN_KEY) for key, _ in
                       store.journal_items(AUTORUN_KEY)}
            live = [i.id for i in infos if i.status == CampaignStatus.RUNNING or (
                str(i.id) in autorun and i.status in (CampaignStatus.PAUSED,
                                                      CampaignStatus.PLANNED))]
            migrations = {i.id: m for i in infos
                          if (m := migrate_store.migration(store, i.id)) is not None}
            jobs: set[str] = set()
            for cid in live:
                jobs |= campaign_job_ids(store, cid)
            return infos, live, frozenset(jobs), migrations

        infos, live, jobs, migrations = await asyncio.to_thread(read)
        if self.gapp.settings.readonly:
            live = []  # a read-only session never starts a job
        if infos:
            self.post_message(CampaignListed(infos, live, jobs, planned=False,
                                             migrations=migrations))

    def on_campaign_listed(self, message: CampaignListed) -> None:
        prices = self._prices()
        self.board.jobs.update(message.job_ids)
        for info in message.infos:
            row = CampaignRow.from_info(info, prices, egress=self._egress(),
                                        migration=message.migrations.get(info.id))
            self.board.rows[info.id] = row
            show_row(self.app, row)
            if message.planned:
                self.board.milestones.started(info.id)
                self._notify_milestone(row, "started")
            else:  # found at start-up: what happened before is not news
                self.board.milestones.started(info.id)
                self.board.milestones.update(info.id, row.counts.get("verified", 0), row.status)
        for cid in message.resume:
            self._run_campaign(cid)
        self._show_states()

    def _run_campaign(self, campaign_id: int) -> None:
        if campaign_id in self.board.active:
            return
        self.board.active.add(campaign_id)  # until the worker ends, whatever happens
        self.run_worker(self._campaign_worker(campaign_id), group="campaigns",
                        exit_on_error=False)

    async def _campaign_worker(self, campaign_id: int) -> None:
        try:
            await self._campaign_runner(campaign_id)
        finally:
            # No await between the runner's last message and here: its handler sees
            # the campaign inactive (so p can resume it at once).
            self.board.runners.pop(campaign_id, None)
            self.board.active.discard(campaign_id)

    async def _campaign_runner(self, campaign_id: int) -> None:
        """The engine's runner (with the S3 sink for a migration); its callbacks post
        messages (they run on this loop)."""
        from contextlib import AbstractAsyncContextManager, nullcontext

        from glacier_tui.glacier import migrate_store
        from glacier_tui.glacier.campaigns import CampaignRunner
        from glacier_tui.glacier.operations import error_text
        from glacier_tui.glacier.safe_files import LockedError

        client = self.gapp.client
        if client is None or self.gapp.settings.readonly:
            return
        row = self.board.rows.get(campaign_id)
        vault = row.vault if row is not None else ""

        def on_progress(progress: CampaignProgress) -> None:
            self.post_message(CampaignProgressed(progress))

        def on_item(item: CampaignItem) -> None:
            self.post_message(CampaignItemChanged(campaign_id, vault, item))

        store = self.gapp.store
        key = f"{AUTORUN_KEY}{campaign_id}"
        await asyncio.to_thread(store.journal_put, key, True)
        try:
            # What the campaign is comes from the store, not from how it was started here.
            runs: AbstractAsyncContextManager[CampaignRunner]
            if await asyncio.to_thread(migrate_store.migration, store, campaign_id):
                from glacier_tui.glacier.migrate import migration_runner

                s3 = await self.main.migrate.s3_options()
                runs = migration_runner(client, s3, store, campaign_id,
                                        options=self._engine_options(),
                                        on_progress=on_progress, on_item=on_item)
            else:
                runs = nullcontext(CampaignRunner(
                    client, store, campaign_id, options=self._engine_options(),
                    on_progress=on_progress, on_item=on_item))
            async with runs as runner:
                self.board.runners[campaign_id] = runner
                info = await runner.run()
        except asyncio.CancelledError:
            raise  # quitting: the autorun key stays, the next start resumes the campaign
        except LockedError as exc:  # another process runs it: that one goes on
            await asyncio.to_thread(store.journal_delete, key)
            self.post_message(CampaignStopped(campaign_id, None, error_text(exc), busy=True))
        except Exception as exc:
            await asyncio.to_thread(store.journal_delete, key)
            self.post_message(CampaignStopped(campaign_id, None, error_text(exc)))
        else:
            await asyncio.to_thread(store.journal_delete, key)
            self.post_message(CampaignStopped(campaign_id, info))

    # -- live updates ----------------------------------------------------------------------

    def on_campaign_progressed(self, message: CampaignProgressed) -> None:
        p = message.progress
        row = self.board.rows.get(p.campaign_id)
        if row is None:
            return
        row = row.with_progress(p)
        self.board.rows[row.id] = row
        show_row(self.app, row)
        for milestone in self.board.milestones.update(row.id, row.counts.get("verified", 0),
                                                row.status):
            self._notify_milestone(row, milestone)

    def on_campaign_item_changed(self, message: CampaignItemChanged) -> None:
        item = message.item
        if item.job_id:
            self.board.jobs.add(item.job_id)
        lst = self.main.archives
        if lst.context == message.vault:
            lst.set_state(item.archive_id, str(item.state))
        row = self.board.item_moved(message.campaign_id, item.item_id, str(item.state),
                                    item.size)
        if row is None:
            return
        show_row(self.app, row)
        for milestone in self.board.milestones.update(row.id, row.counts.get("verified", 0),
                                                row.status):
            self._notify_milestone(row, milestone)

    def on_campaign_stopped(self, message: CampaignStopped) -> None:
        row = self.board.rows.get(message.campaign_id)
        if message.info is not None:
            old = row
            row = CampaignRow.from_info(message.info, self._prices(), egress=self._egress())
            if old is not None:  # what it is and where it goes do not change
                row = replace(row, what=old.what, kind=old.kind, where=old.where)
            self.board.rows[row.id] = row
            show_row(self.app, row)
            for milestone in self.board.milestones.update(row.id, row.counts.get("verified", 0),
                                                    row.status):
                self._notify_milestone(row, milestone)
            return
        if message.busy:  # not a failure: another process (the CLI?) runs it
            name = row.name if row is not None else f"Restore #{message.campaign_id}"
            self.post_message(Info(f"{name} runs elsewhere"))
            return
        if row is not None and self.board.milestones.failed(row.id):
            self._notify_milestone(row, "failed", message.error)

    def _notify_milestone(self, row: CampaignRow, milestone: Milestone | str,
                          detail: str = "") -> None:
        """One toast per milestone of a campaign (started, first file, done, failed)."""
        name = row.name
        files = f"{row.total_items} archive{'s' if row.total_items != 1 else ''}"
        where = inert(row.where or str(self.gapp.download_dir))
        if milestone == "started":
            self.notify(f"{files} of {inert(row.vault)}, {inert(row.tier)}. Press c to follow.",
                        title=f"{name} started", timeout=6, markup=False)
        elif milestone == "first file":
            self.notify(f"The first file is verified in {where}.", title=name, timeout=6,
                        markup=False)
        elif milestone == "done":
            self.notify(f"All {files} verified in {where}.", title=f"{name} done", timeout=10,
                        markup=False)
        else:
            failed = row.counts.get("failed", 0)
            text = detail or inert(row.message) or f"{failed} of {files} failed."
            self.notify(text, title=f"{name} failed", severity="error", timeout=12,
                        markup=False)

    def _show_states(self) -> None:
        """The archive list shows a state column once there is any campaign."""
        lst = self.main.archives
        if self.board.rows and not lst.show_states:
            lst.show_states = True
            lst.reload()

    def state_lookup(self, vault_name: str) -> Any:
        """For the archive list's page loader (a thread): archive id -> campaign state."""
        from glacier_tui.glacier.campaign_view import archive_states

        if not self.is_attached:  # the screen is being torn down
            return None
        vault = self.main.connection.vaults.get(vault_name)
        if vault is None:
            return None
        store, key = self.gapp.store, vault_key(vault)
        return lambda ids: archive_states(store, key, ids)

    # -- the Restores screen and the job filter -------------------------------------------

    def show(self) -> None:
        """The Restores screen (c): every campaign and close-out, live."""
        from glacier_tui.ui.screens.restores import RestoresScreen

        rows: list[CampaignRow | PurgeRow] = [*self.main.close_out.rows.values(),
                                              *self.board.rows.values()]

        def chosen(campaign_id: int | None) -> None:
            if campaign_id is not None:
                self._load_campaign_jobs(campaign_id)

        self.app.push_screen(RestoresScreen(rows, self._campaign_action), chosen)

    def _campaign_action(self, what: str, shown: CampaignRow | PurgeRow) -> None:
        """Pause or resume (``pause``), or cancel (``cancel``) a campaign or a close-out."""
        if isinstance(shown, PurgeRow):
            self.main.close_out.action(what, shown)
            return
        campaign_id = shown.id
        row = self.board.rows.get(campaign_id)
        if row is None or not self.main.writable(f"changing {row.name.lower()}"):
            return
        runner = self.board.runners.get(campaign_id)
        if what == "pause":
            if runner is not None and runner.stopping:
                self.notify(f"{row.name} is still pausing; p resumes it once paused.",
                            timeout=4, markup=False)
            elif runner is not None:
                runner.request_stop()  # paused at its next safe point
                self.notify(f"{row.name} pauses; p resumes it.", timeout=4, markup=False)
            elif campaign_id not in self.board.active and row.status in (
                    "paused", "incomplete", "planned", "running"):
                self._run_campaign(campaign_id)
                self.notify(f"{row.name} resumed.", timeout=4, markup=False)
        elif what == "cancel" and row.status not in ("done", "cancelled"):
            self._cancel_campaign(row)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _cancel_campaign(self, row: CampaignRow) -> None:
        from glacier_tui.glacier.campaigns import cancel_campaign
        from glacier_tui.ui.screens.confirm import ConfirmScreen

        campaign_id = row.id
        copies = "nothing more is copied to S3; verified objects stay" \
            if row.kind == "migrate" else "nothing more is downloaded; verified files stay"
        ok = await self.app.push_screen_wait(ConfirmScreen(
            f"Cancel {row.name.lower()}?",
            [f"No new jobs are started and {copies}.",
             "Jobs already running cannot be cancelled in Glacier: they finish and are "
             "billed."], confirm_label=f"Cancel {row.name.split()[0].lower()}"))
        if not ok:
            return
        info = await asyncio.to_thread(cancel_campaign, self.gapp.store, campaign_id)
        if campaign_id not in self.board.active:  # else its runner stops and says so
            self.post_message(CampaignStopped(campaign_id, info))

    def _load_campaign_jobs(self, campaign_id: int) -> None:
        from glacier_tui.glacier.campaign_view import campaign_job_ids

        async def load() -> None:
            ids = await asyncio.to_thread(campaign_job_ids, self.gapp.store, campaign_id)
            self.post_message(CampaignJobs(campaign_id, ids))

        self.run_worker(load(), group="campaign-jobs", exclusive=True, exit_on_error=False)

    def on_campaign_jobs(self, message: CampaignJobs) -> None:
        self.board.jobs.update(message.job_ids)
        table = self.main.job_table
        table.set_job_filter(message.job_ids)
        self.board.jobs_of = message.campaign_id
        self.main.jobs.title()
        table.focus()

    def clear_filter(self) -> bool:
        """Esc on the job table: all jobs again (False when it showed all already)."""
        table = self.main.job_table
        if table.only_jobs is None:
            return False
        table.set_job_filter(None)
        self.board.jobs_of = None
        self.main.jobs.title()
        return True
