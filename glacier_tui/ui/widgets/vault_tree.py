"""The vault tree: vaults with totals, lazily expanding into folders (never archives).

Children come from the local store (the cached inventory) in a thread worker; the
tree shows "Loading…" until the worker's message arrives. The archives of the
highlighted folder are shown by the virtual ``ArchiveList`` next to the tree.
Marks (space) select whole folders (or a vault's root) for restore.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from glacier_tui.ui.display_names import archive_label, folder_label
from glacier_tui.ui.formatting import age, age_text_lasts, clean, human_size, parse_iso
from glacier_tui.ui.messages import OperationError
from glacier_tui.ui.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from collections.abc import Callable

    from glacier_tui.glacier.models import Vault

STATS_GAP = "  "  # between a name and its stats
NodeKind = Literal["vault", "folder", "archive", "more", "hint", "loading"]


def vault_key(vault: Vault) -> str:
    """The store's key for a vault: its ARN (unique across accounts/regions)."""
    from glacier_tui.glacier.vault_keys import vault_store_key

    return vault_store_key(vault.name, vault.arn)  # the CLI's inventory commands use it too


@dataclass
class NodeData:
    kind: NodeKind
    vault: str  # vault name
    path: str = ""  # folder path, or archive path
    archive_id: str = ""
    size: int | None = None
    count: int = 0
    offset: int = 0  # for "more" nodes: next archive offset
    loaded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FolderEntry:
    path: str
    name: str
    count: int
    bytes: int
    direct_count: int = 0


@dataclass(frozen=True)
class ArchiveEntry:
    archive_id: str
    path: str
    name: str
    size: int | None


class VaultTree(ReportsWorkerErrors, Tree[NodeData]):
    DEFAULT_CSS = """
    VaultTree { border: round $primary 40%; overflow-x: hidden; }
    VaultTree:focus { border: round $primary; }
    """
    BINDINGS = [
        Binding("j", "cursor_down", "Down", id="vi_down", show=False),
        Binding("k", "cursor_up", "Up", id="vi_up", show=False),
        Binding("home,g", "scroll_home", "First", id="cursor_first", show=False),
        Binding("end,G", "scroll_end", "Last", id="cursor_last", show=False),
        Binding("space", "toggle_mark", "Mark", id="mark"),
        # The screen's actions, shown in the footer while the tree has focus.
        Binding("i", "screen.inventory", "Inventory", id="inventory"),
    ]

    class _FoldersLoaded(Message, bubble=False):
        """A worker read a node's subfolders from the store (workers never touch widgets)."""

        def __init__(self, node: TreeNode[NodeData], folders: list[FolderEntry]) -> None:
            super().__init__()
            self.node = node
            self.folders = folders

    class MarksChanged(Message):
        pass

    def __init__(self) -> None:
        super().__init__("Vaults", id="vaults")
        self.show_root = False
        self.guide_depth = 2
        self.border_title = "Vaults"
        self.vaults: dict[str, Vault] = {}
        self.has_inventory: dict[str, bool] = {}
        self.pending_inventory: dict[str, datetime | None] = {}
        self.marks: dict[tuple[str, str, str], NodeData] = {}
        self.filter_text = ""
        self.now = datetime.now().astimezone()
        self._vault_nodes: dict[str, TreeNode[NodeData]] = {}
        # When each vault's label (its inventory's age) next changes: a heap, plus the
        # current due time per vault so superseded entries are skipped.
        self._label_heap: list[tuple[float, str]] = []
        self._label_due: dict[str, float] = {}
        self.status_line = "Connecting…"
        self.store_of: Callable[[], Any] = lambda: None  # set by the screen (used in threads)

    def on_mount(self) -> None:
        self.root.add_leaf(Text(self.status_line, style="dim italic"), NodeData("hint", ""))

    # -- vaults -------------------------------------------------------------

    def set_status(self, text: str) -> None:
        self.status_line = text
        if not self.vaults:
            self.root.remove_children()
            self.root.add_leaf(Text(clean(text), style="dim italic"), NodeData("hint", ""))

    def vault_label(self, vault: Vault) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        if any(k[0] == vault.name for k in self.marks):
            t.append("● ", style="bold magenta")
        t.append(clean(vault.name), style="bold")
        count = vault.number_of_archives
        t.append(STATS_GAP)  # unstyled: the name never runs into its stats
        t.append(f"{count if count is not None else '?'} · {human_size(vault.size_in_bytes)}"
                 f" · inv {age(vault.last_inventory_date, self.now)}", style="dim")
        return t

    def set_vaults(self, vaults: list[Vault], has_inventory: dict[str, bool]) -> None:
        """Replace the vault list; keeps expanded vaults' children when the vault remains."""
        self.vaults = {v.name: v for v in vaults}
        self.has_inventory = dict(has_inventory)
        self._rebuild()

    def _visible(self, name: str) -> bool:
        return not self.filter_text or self.filter_text.lower() in name.lower()

    def _rebuild(self) -> None:
        wanted = [n for n in sorted(self.vaults) if self._visible(n)]
        current = list(self._vault_nodes)
        if current == wanted:
            self._relabel_vaults()
            return
        # Remember the highlighted vault so a rebuild does not move the user.
        highlighted = self.cursor_node.data.vault if self.cursor_node and self.cursor_node.data \
            else None
        self.root.remove_children()
        self._vault_nodes.clear()
        if not wanted:
            msg = "No vault matches the filter." if self.vaults else \
                "No vaults in this region. Press n to create one."
            self.root.add_leaf(Text(msg, style="dim italic"), NodeData("hint", ""))
            return
        for name in wanted:
            vault = self.vaults[name]
            node = self.root.add(self.vault_label(vault), NodeData("vault", name),
                                 allow_expand=True)
            self._vault_nodes[name] = node
            self._schedule_label(name)
        if highlighted in self._vault_nodes:
            self.move_cursor(self._vault_nodes[highlighted])
        else:
            self.move_cursor(self._vault_nodes[wanted[0]])

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._rebuild()

    def refresh_labels(self, now: datetime) -> None:
        """Relabel the vaults whose label changed since it was drawn (the inventory's age).

        Only the vaults that are due (see ``_schedule_label``): building every label on
        each poll cost 25-40 ms of UI time at 1,000 vaults.
        """
        self.now = now
        t = now.timestamp()
        heap, due_now = self._label_heap, []
        while heap and heap[0][0] <= t:
            due, name = heapq.heappop(heap)
            if self._label_due.get(name) == due:  # else superseded by a later label
                del self._label_due[name]
                due_now.append(name)
        for name in due_now:  # after the loop: relabelling schedules the next change
            node = self._vault_nodes.get(name)
            if node is not None:
                self._relabel(node)

    def _schedule_label(self, name: str) -> None:
        vault = self.vaults.get(name)
        lasts = age_text_lasts(vault.last_inventory_date if vault else None, self.now)
        if lasts == math.inf:
            self._label_due.pop(name, None)
            return
        # A hair early rather than late: relabelling before the change is harmless.
        due = self.now.timestamp() + lasts - 1e-6
        if abs(self._label_due.get(name, -1.0) - due) < 1e-3:
            return  # already queued (each full poll relabels every vault)
        self._label_due[name] = due
        heapq.heappush(self._label_heap, (due, name))

    def _relabel_vaults(self) -> None:
        for node in self._vault_nodes.values():
            self._relabel(node)

    def vault_node(self, name: str) -> TreeNode[NodeData] | None:
        return self._vault_nodes.get(name)

    def select_vault(self, name: str) -> bool:
        node = self._vault_nodes.get(name)
        if node is None:
            return False
        self.move_cursor(node)
        self.scroll_to_node(node)
        return True

    def reset_vault(self, name: str) -> None:
        """Forget a vault's loaded children (e.g. after a new inventory was imported)."""
        node = self._vault_nodes.get(name)
        if node is None or node.data is None:
            return
        node.data.loaded = False
        was_expanded = node.is_expanded
        node.remove_children()
        if was_expanded:
            self._load(node)

    # -- children -------------------------------------------------------------

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        node = event.node
        data = node.data
        if data is None or data.loaded or data.kind not in ("vault", "folder"):
            return
        self._load(node)

    def _load(self, node: TreeNode[NodeData]) -> None:
        data = node.data
        assert data is not None
        data.loaded = True
        node.remove_children()
        if data.kind == "vault" and not self.has_inventory.get(data.vault):
            if data.vault in self.pending_inventory:
                node.add_leaf(Text("Inventory requested — waiting for Glacier…",
                                   style="italic yellow"), NodeData("hint", data.vault))
            else:
                node.add_leaf(Text("No cached inventory: press i to request one",
                                   style="italic"), NodeData("hint", data.vault))
            return
        node.add_leaf(Text("Loading…", style="dim italic"), NodeData("loading", data.vault))
        vault = self.vaults.get(data.vault)
        if vault is not None:
            self._load_children(node, vault_key(vault), data.path)

    @work(thread=True, group="tree", exit_on_error=False)
    def _load_children(self, node: TreeNode[NodeData], key: str, path: str) -> None:
        """Read the node's subfolders from the cached inventory (a thread)."""
        try:
            folders = [FolderEntry(f.path, f.name, f.count, f.bytes, f.direct_count)
                       for f in self.store_of().subfolders(key, path, limit=100_000)]
        except Exception as exc:  # a missing snapshot or a bad database: show, don't crash
            self.post_message(OperationError(f"Reading the inventory failed: {exc}"))
            return
        self.post_message(self._FoldersLoaded(node, folders))

    def on_vault_tree__folders_loaded(self, message: _FoldersLoaded) -> None:
        self.fill(message.node, message.folders)

    def fill(self, node: TreeNode[NodeData], folders: list[FolderEntry]) -> None:
        """Add the subfolders read by the worker (archives are in the archive list)."""
        data = node.data
        if data is None:
            return
        for child in list(node.children):
            if child.data is not None and child.data.kind in ("loading", "more"):
                child.remove()
        vault = data.vault
        for f in folders:
            nd = NodeData("folder", vault, path=f.path, size=f.bytes, count=f.count)
            # Archives below the folder but not directly in it: it has subfolders.
            node.add(self._folder_label(nd, f.name), nd,
                     allow_expand=f.count > f.direct_count)
        if not folders and data.kind == "vault":
            node.add_leaf(Text("(no folders)", style="dim italic"), NodeData("hint", vault))

    def _folder_label(self, nd: NodeData, name: str) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        if (nd.vault, "folder", nd.path) in self.marks:
            t.append("● ", style="bold magenta")
        shown = folder_label(nd.path, name)
        t.append(shown if shown != name else f"{clean(name)}/", style="bold cyan")
        t.append(STATS_GAP)
        t.append(f"{nd.count} · {human_size(nd.size)}", style="dim")
        return t

    def _archive_label(self, nd: NodeData, name: str) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        if (nd.vault, "archive", nd.archive_id) in self.marks:
            t.append("● ", style="bold magenta")
        folder = nd.path.rpartition("/")[0]
        t.append(clean(archive_label(folder, name, nd.archive_id)))
        t.append(STATS_GAP)
        t.append(human_size(nd.size), style="dim")
        return t

    # -- marks --------------------------------------------------------------------

    def _mark_key(self, data: NodeData) -> tuple[str, str, str] | None:
        if data.kind == "archive":
            return (data.vault, "archive", data.archive_id)
        if data.kind == "folder":
            return (data.vault, "folder", data.path)
        if data.kind == "vault" and self.has_inventory.get(data.vault):
            return (data.vault, "folder", "")
        return None

    def action_toggle_mark(self) -> None:
        node = self.cursor_node
        if node is None or node.data is None:
            return
        key = self._mark_key(node.data)
        if key is None:
            return
        if key in self.marks:
            del self.marks[key]
        else:
            self.marks[key] = node.data
        self._relabel(node)
        self.post_message(self.MarksChanged())
        self.action_cursor_down()

    def clear_marks(self) -> None:
        self.marks.clear()
        self._relabel_all(self.root)
        self.post_message(self.MarksChanged())

    def _relabel(self, node: TreeNode[NodeData]) -> None:
        data = node.data
        if data is None:
            return
        if data.kind == "vault" and data.vault in self.vaults:
            label = self.vault_label(self.vaults[data.vault])
            self._schedule_label(data.vault)
        elif data.kind == "folder":
            label = self._folder_label(data, data.path.rpartition("/")[2])
        elif data.kind == "archive":
            label = self._archive_label(data, data.path.rpartition("/")[2])
        else:
            return
        if label != node.label:  # rich Text equality: same text and same styles
            node.set_label(label)

    def _relabel_all(self, node: TreeNode[NodeData]) -> None:
        for child in node.children:
            self._relabel(child)
            self._relabel_all(child)

    def selection(self) -> list[NodeData]:
        """Marked items, or the item under the cursor when nothing is marked."""
        if self.marks:
            return list(self.marks.values())
        node = self.cursor_node
        if node is None or node.data is None:
            return []
        data = node.data
        if data.kind in ("archive", "folder"):
            return [data]
        if data.kind == "vault" and self.has_inventory.get(data.vault):
            return [NodeData("folder", data.vault, path="")]
        return []

    def current_vault(self) -> str | None:
        node = self.cursor_node
        if node is None or node.data is None or not node.data.vault:
            return None
        return node.data.vault

    def copy_value(self) -> tuple[str, str] | None:
        """What ``y`` copies: an archive's id, else the vault's ARN (its name without one).

        A folder has no id of its own: it copies its vault's, as the vault's node does.
        """
        node = self.cursor_node
        data = node.data if node is not None else None
        if data is None:
            return None
        if data.archive_id:
            return "archive id", data.archive_id
        if not data.vault:
            return None
        vault = self.vaults.get(data.vault)
        if vault is not None and vault.arn:
            return "vault ARN", vault.arn
        return "vault name", data.vault


def parse_inventory_date(value: str | None) -> datetime | None:
    return parse_iso(value)
