"""Migrating to S3 (M on a vault or folder): the Migrate screen, then the migration in a
worker.

The migration is the service layer's: ``plan_migration`` here, then the campaigns part
runs it with the engine and the migration's S3 sink (``migrate.migration_runner``), as
``glacier-tui migrate run`` does. It is a campaign like any other in the Restores screen
(c): paused, resumed and cancelled there, and resumed at the next start if left running.
In --demo the default destination is a bucket on a local S3 (moto, loopback) started on
first use.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import work

from glacier_tui.glacier.sanitize import inert
from glacier_tui.ui.messages import CampaignListed, OperationError
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.vault_tree import vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.migrate import MigrationPlan
    from glacier_tui.glacier.s3_client import S3Options
    from glacier_tui.ui.screens.migrate import MigrateRequest

DEMO_BUCKET = "demo-bucket"  # the bucket `glacier-tui migrate --demo` creates


class Migrate(Part):
    """M: move a vault or folder into S3, verified, as a campaign."""

    def __init__(self) -> None:
        super().__init__(id="migrate-part")
        # The S3 endpoint to use (tests point it at their moto); None: the settings'
        # s3_endpoint_url (else AWS), or in --demo a local S3 started on first use.
        self.s3_url: str | None = None
        self.local_s3: Any = None  # the local S3 of --demo, once started

    def start(self) -> None:
        """M: the Migrate screen for the vault or folder(s) selected."""
        if not self.main.writable("migrating to S3"):
            return
        selection = [d for d in self.main.browse.selection() if d.kind in ("vault", "folder")]
        if not selection:
            self.notify("Select a vault or a folder to migrate.", severity="warning")
            return
        self._open_migrate(selection)

    async def s3_options(self) -> S3Options:
        """Where migrations write: the Glacier connection's credentials and region, the
        S3 endpoint of the settings (in --demo, the local S3, started on first use)."""
        from glacier_tui.glacier.s3_client import S3Options

        if self.gapp.demo and self.s3_url is None:
            self.s3_url = await asyncio.to_thread(self._demo_s3)
        client = self.gapp.client
        assert client is not None
        g = client.options
        url = self.s3_url or self.gapp.settings.s3_endpoint_url
        return S3Options(profile=g.profile, region=g.region, endpoint_url=url,
                         access_key=g.access_key, secret_key=g.secret_key,
                         session_token=g.session_token)

    def _demo_s3(self) -> str:
        """The local S3 of --demo with its bucket (thread)."""
        if self.local_s3 is None:
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
            self.local_s3 = local
        url: str = self.local_s3.url
        return url

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _open_migrate(self, selection: list[Any]) -> None:
        from glacier_tui.glacier.campaign_view import selections_for
        from glacier_tui.glacier.migrate_cost import TransferKind, summarize, transfer_kind
        from glacier_tui.glacier.s3_keys import DEFAULT_PART, MIN_PART
        from glacier_tui.ui.screens.main.restore import selected
        from glacier_tui.ui.screens.migrate import MigrateScreen

        store = self.gapp.store
        keys = {name: vault_key(v) for name, v in self.main.connection.vaults.items()}
        targets = await asyncio.to_thread(self.main.restore.resolve_archives, selection)
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
            if self.s3_url is None:
                self.s3_url = await asyncio.to_thread(self._demo_s3)
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

    async def _plan(self, vault: str, key: str, sel: Any, request: MigrateRequest
                    ) -> MigrationPlan:
        from glacier_tui.glacier.migrate import MigrationSpec, plan_migration

        spec = MigrationSpec(vault, key, sel, request.tier, request.bucket, request.prefix,
                             self.gapp.download_dir.expanduser().absolute(),
                             request.storage_class)
        return await asyncio.to_thread(plan_migration, self.gapp.store, spec)

    async def _run_migration(self, vault: str, key: str, sel: Any,
                             request: MigrateRequest) -> None:
        """Plan it (or find the same unfinished plan); the campaigns part runs it, as it
        runs (and resumes at start-up) every campaign."""
        from glacier_tui.glacier import errors

        if self.gapp.client is None or self.gapp.settings.readonly:
            return
        try:
            plan = await self._plan(vault, key, sel, request)
        except errors.GlacierError as exc:
            self.post_message(OperationError(exc.user_message(),
                                             title=f"Migrate {inert(vault)}"))
            return
        cid = plan.info.id
        self.main.campaigns.post_message(CampaignListed(
            [plan.info], [cid], frozenset(), planned=True, migrations={cid: plan.row}))
