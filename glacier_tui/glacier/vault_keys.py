"""The one key a vault's inventory has in the local store, for the app and the CLI alike.

The key is the vault's ARN: unique across accounts and regions, so one store can hold
the inventories of same-named vaults of two regions. The app knows every vault's ARN
(ListVaults returns it); ``glacier-tui inventory ... --vault NAME`` knows only a name,
and resolves it here to the ARN the store (or the inventory document itself) names:

1. an ARN given, or known: that ARN;
2. a name, and the store already holds an inventory under an ARN of that name: that ARN
   (only when exactly one: two regions' vaults of that name are ambiguous);
3. a name, and the JSON inventory document being imported names its vault's ARN: that
   ARN (after the usual check that it is the named vault);
4. otherwise the name itself (a CSV inventory imported offline has no ARN anywhere);
   :func:`vault_store_key` with the ARN still finds such an inventory by its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO

__all__ = ["arn_in_document", "is_vault_arn", "name_of", "resolve_vault_key", "vault_store_key"]

_ARN = re.compile(r"^arn:[^:]+:glacier:[^:]*:[^:]*:vaults/(.+)$")
# The inventory's VaultARN comes first in AWS's documents; a bounded peek finds it.
_PEEK_BYTES = 4096
_DOC_ARN = re.compile(rb'"VaultARN"\s*:\s*"(arn:[^"\\]{1,400})"')


def is_vault_arn(text: str) -> bool:
    return _ARN.match(text) is not None


def name_of(key: str) -> str:
    """The vault name in a key (an ARN's last part, or the key itself)."""
    match = _ARN.match(key)
    return match.group(1) if match else key


def vault_store_key(name: str, arn: str | None, stored: Iterable[str] = ()) -> str:
    """The key of a vault whose ARN is known (the app; the CLI after DescribeVault).

    ``stored`` (the store's keys, when at hand) lets an inventory imported under the
    bare name before be found: the ARN when it has one, else that name.
    """
    if not arn:
        return name
    keys = set(stored)
    if arn not in keys and name in keys:
        return name
    return arn


def resolve_vault_key(given: str, stored: Iterable[str], document_arn: str | None = None) -> str:
    """The key for a vault named on the command line (a name or an ARN)."""
    if is_vault_arn(given):
        return given
    keys = list(stored)
    if given in keys:
        return given
    arns = [k for k in keys if is_vault_arn(k) and name_of(k) == given]
    if len(arns) == 1:
        return arns[0]
    if document_arn and is_vault_arn(document_arn) and name_of(document_arn) == given \
            and not arns:
        return document_arn
    return given


def arn_in_document(f: IO[bytes]) -> str | None:
    """The VaultARN at the head of a seekable JSON inventory, or None (left at its start)."""
    try:
        if not f.seekable():
            return None
        start = f.tell()
        head = f.read(_PEEK_BYTES)
        f.seek(start)
    except (OSError, ValueError):
        return None
    match = _DOC_ARN.search(head or b"")
    return match.group(1).decode("utf-8", "replace") if match else None
