"""The copy output file: JSONL, append-only, resumable.

Each record is one `os.write` of a whole line on an `O_APPEND` descriptor followed by `fsync`, so a crash or
Ctrl-C loses at most the batch in flight and leaves at most one torn last line, which the next writer cuts
off. When a product appears more than once, its last line wins. `pending` tells a re-run what is left:
products with no successful record for their current input hash (product + style + model + pipeline).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from assistant.copywriting.writer import CopyError, CopyRecord, CopyStyle, input_hash
from retrieval.catalog import Product

logger = logging.getLogger(__name__)


class CopyJournal:
    """The output JSONL, append-only and resumable.

    Each record is one `os.write` of a whole line on an `O_APPEND` descriptor, then `fsync`, so a crash
    leaves at most one torn last line; `open()` cuts it off. When a product appears more than once the
    last line wins. An exclusive lock keeps two runs from writing the same file.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> CopyJournal:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise CopyError(f"'{self.path}' is being written by another `shopbot copy generate`; "
                            "wait for it to finish or choose another --out.") from None
        self._truncate_torn_tail()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # also releases the lock
            self._fd = None

    def _truncate_torn_tail(self) -> None:
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        logger.warning("%s: dropping a torn last line (%d bytes) left by an interrupted run", self.path, len(data) - keep)
        os.ftruncate(self._fd, keep)

    def append(self, record: CopyRecord) -> None:
        if self._fd is None:
            raise RuntimeError("CopyJournal.append outside `with CopyJournal(path) as journal:`")
        os.write(self._fd, (record.to_json() + "\n").encode("utf-8"))
        os.fsync(self._fd)

    def records(self) -> dict[str, CopyRecord]:
        """The latest record of each product id (unparsable lines are skipped with a warning)."""
        return read_records(self.path)


def read_records(path: Path) -> dict[str, CopyRecord]:
    """The latest record per product id in a copy JSONL file; a torn or bad line is skipped."""
    latest: dict[str, CopyRecord] = {}
    if not Path(path).exists():
        return latest
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = CopyRecord.model_validate_json(line)
            except ValidationError:
                logger.warning("%s line %d is not a copy record; skipped", path, number)
                continue
            latest[record.id] = record
    return latest


def pending(products: Iterable[Product], done: dict[str, CopyRecord], style: CopyStyle, model_name: str) -> list[Product]:
    """Products without a successful record for their current input hash."""
    out = []
    for product in products:
        record = done.get(product.id)
        if record is None or record.error or record.input_hash != input_hash(product, style, model_name):
            out.append(product)
    return out
