"""Migrating to S3 (M on a vault or folder): the Migrate screen, then the migration in a
worker.

The migration is the service layer's: ``plan_migration`` then the campaign engine with
the migration sink, as ``glacier-tui migrate run`` runs it. Its progress is posted as
campaign messages, so it shows in the Restores screen (c) like any campaign. In --demo
the default destination is a bucket on a local S3 (moto, loopback) started on first use.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from textual import work

from glacier_tui.glacier.sanitize import inert
from glacier_tui.ui.messages import (
    CampaignItemChanged,
    CampaignListed,
    CampaignProgressed,
    CampaignStopped,
    OperationError,
)
from glacier_tui.ui.screens.main.base import MainScreenBase
from glacier_tui.ui.widgets.vault_tree import vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.campaigns import CampaignItem, CampaignProgress, EngineOptions
    from glacier_tui.glacier.migrate import MigrationPlan
    from glacier_tui.glacier.s3_client import S3Options
    from glacier_tui.ui.screens.migrate import MigrateRequest

DEMO_BUCKET = "demo-bucket"  # the bucket `glacier-tui migrate --demo` creates


class MigrateMixin(MainScreenBase):
    """M: move a vault or folder into S3, verified, as a campaign."""

    # The S3 endpoint to use (tests point it at their moto); None: AWS, or in --demo a
    # local S3 started on first use.
    migrate_s3_url: str | None = None
    _local_s3: Any = None
    # Campaign id -> what the Restores screen says of a migration run here.
    _migration_labels: dict[int, str] | None = None

    def _label_migration(self, campaign_id: int) -> None:
        """Say 'migrate ... -> s3://...' in the campaign's row (runs after the campaigns
        part's handler, which builds the row from the engine's info)."""
        from glacier_tui.ui.screens.restores import RestoresScreen

        label = (self._migration_labels or {}).get(campaign_id)
        row = self.campaign_rows.get(campaign_id)
        if label is None or row is None or row.what == label:
            return
        row = replace(row, what=label)
        self.campaign_rows[campaign_id] = row
        for screen in self.app.screen_stack:
            if isinstance(screen, RestoresScreen):
                screen.update_row(row)

    def on_campaign_listed(self, message: CampaignListed) -> None:
        for info in message.infos:
            self._label_migration(info.id)

    def on_campaign_stopped(self, message: CampaignStopped) -> None:
        self._label_migration(message.campaign_id)

    def action_migrate(self) -> None:
        if not self._writable("migrating to S3"):
            return
        selection = [d for d in self._selection() if d.kind in ("vault", "folder")]
        if not selection:
            self.notify("Select a vault or a folder to migrate.", severity="warning")
            return
        self._open_migrate(selection)

    def _s3_options(self) -> S3Options:
        from glacier_tui.glacier.s3_client import S3Options

        client = self.gapp.client
        assert client is not None
        g = client.options
        return S3Options(profile=g.profile, region=g.region, endpoint_url=self.migrate_s3_url,
                         access_key=g.access_key, secret_key=g.secret_key,
                         session_token=g.session_token)

    def _demo_s3(self) -> str:
        """The local S3 of --demo with its bucket (thread)."""
        if self._local_s3 is None:
            import boto3

            from glacier_tui.local_s3 import start_local_s3

            local = start_local_s3()
            client = self.gapp.client
            assert client is not None
            g = client.options
            boto3.client("s3", endpoint_url=local.url, region_name=g.region or "us-east-1",
                         aws_access_key_id=g.access_key or "demo",
                         aws_secret_access_key=g.secret_key or "demo").create_bucket(
                Bucket=DEMO_BUCKET)
            self._local_s3 = local
        url: str = self._local_s3.url
        return url

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _open_migrate(self, selection: list[Any]) -> None:
        from glacier_tui.glacier.campaign_view import selections_for
        from glacier_tui.glacier.migrate_cost import TransferKind, summarize, transfer_kind
        from glacier_tui.glacier.s3_keys import DEFAULT_PART, MIN_PART
        from glacier_tui.ui.screens.main.restore import selected
        from glacier_tui.ui.screens.migrate import MigrateScreen

        store = self.gapp.store
        keys = {name: vault_key(v) for name, v in self.vaults.items()}
        targets = await asyncio.to_thread(self._resolve_archives, selection)
        if not targets:
            self.notify("Nothing to migrate in the selection (is there an inventory?).",
                        severity="warning")
            return
        selections = await asyncio.to_thread(selections_for, store, selected(selection), keys)
        if len(selections) != 1:
            self.notify("Migrate one vault at a time.", severity="warning")
            return
        (vault, sel), = selections.items()
        sizes = summarize([t.size or 0 for t in targets], DEFAULT_PART, MIN_PART)
        settings = self.gapp.settings
        client = self.gapp.client
        region = client.region if client is not None else (settings.region or "")
        if self.gapp.demo:
            transfer = TransferKind.IN_REGION
            if self.migrate_s3_url is None:
                self.migrate_s3_url = await asyncio.to_thread(self._demo_s3)
            destination = f"s3://{DEMO_BUCKET}/{vault}/"
        else:
            transfer = transfer_kind(region, None, settings.machine_region)
            destination = ""
        source = f"{vault}: {sel.describe()}"
        request = await self.app.push_screen_wait(MigrateScreen(
            source, sizes, settings.price_table(), transfer, destination=destination,
            tier="Expedited" if self.gapp.demo else "Bulk"))
        if request is None or self.gapp.client is None or self.gapp.settings.readonly:
            return
        self.run_worker(self._run_migration(vault, keys[vault], sel, request),
                        group="migrations", exit_on_error=False)

    def _migrate_options(self, sink: Any) -> EngineOptions:
        from glacier_tui.glacier.campaigns import EngineOptions

        settings = self.gapp.settings
        clock = self.gapp.clock
        return EngineOptions(poll_interval=self.gapp.poll_interval,
                             prices=settings.price_table(),
                             machine_region=settings.machine_region,
                             clock=lambda: clock().timestamp(), sink=sink)

    async def _plan(self, vault: str, key: str, sel: Any, request: MigrateRequest
                    ) -> MigrationPlan:
        from glacier_tui.glacier.migrate import MigrationSpec, plan_migration

        spec = MigrationSpec(vault, key, sel, request.tier, request.bucket, request.prefix,
                             self.gapp.download_dir.expanduser().absolute(),
                             request.storage_class)
        return await asyncio.to_thread(plan_migration, self.gapp.store, spec)

    async def _run_migration(self, vault: str, key: str, sel: Any,
                             request: MigrateRequest) -> None:
        from glacier_tui.glacier import errors
        from glacier_tui.glacier.campaigns import run_campaign
        from glacier_tui.glacier.migrate import MigrationSink
        from glacier_tui.glacier.operations import error_text
        from glacier_tui.glacier.s3_client import S3Client

        client = self.gapp.client
        if client is None or self.gapp.settings.readonly:
            return
        title = f"Migrate {inert(vault)}"
        try:
            plan = await self._plan(vault, key, sel, request)
        except errors.GlacierError as exc:
            self.post_message(OperationError(exc.user_message(), title=title))
            return
        cid = plan.info.id
        if self._migration_labels is None:
            self._migration_labels = {}
        self._migration_labels[cid] = inert(
            f"migrate {sel.describe()} -> s3://{request.bucket}/{request.prefix} "
            f"({request.storage_class})")
        self.post_message(CampaignListed([plan.info], [], frozenset(), planned=True))

        def on_progress(progress: CampaignProgress) -> None:
            self.post_message(CampaignProgressed(progress))

        def on_item(item: CampaignItem) -> None:
            self.post_message(CampaignItemChanged(cid, vault, item))

        self.campaign_active.add(cid)
        try:
            async with S3Client(self._s3_options()) as s3:
                sink = MigrationSink(client, s3, self.gapp.store, plan.row)
                options = self._migrate_options(sink)
                info = await run_campaign(client, self.gapp.store, cid, options=options,
                                          on_progress=on_progress, on_item=on_item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.post_message(CampaignStopped(cid, None, error_text(exc)))
            self.post_message(OperationError(error_text(exc), title=title))
        else:
            self.post_message(CampaignStopped(cid, info))
        finally:
            self.campaign_active.discard(cid)
