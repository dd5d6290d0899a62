"""The live-call budget (``--llm-max-calls``), shared by every xdist worker of a run.

In one process a counter under a lock is enough. With xdist the controller makes a
small SQLite file and hands its path to the workers; one conditional ``UPDATE``
takes a call atomically across processes.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class CallBudget:
    def __init__(self, limit: int | None, path: Path | None = None) -> None:
        self.limit = limit
        self.path = path
        self._used = 0
        self._lock = threading.Lock()

    @classmethod
    def create_shared(cls, limit: int, path: Path) -> CallBudget:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS budget (used INTEGER NOT NULL)")
            if db.execute("SELECT COUNT(*) FROM budget").fetchone()[0] == 0:
                db.execute("INSERT INTO budget (used) VALUES (0)")
        db.close()
        return cls(limit, path)

    def take(self) -> bool:
        """Take one live call from the budget; False when it is spent."""
        if self.limit is None:
            return True
        if self.path is None:
            with self._lock:
                if self._used >= self.limit:
                    return False
                self._used += 1
                return True
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            cursor = db.execute("UPDATE budget SET used = used + 1 WHERE used < ?", (self.limit,))
            return cursor.rowcount == 1
        finally:
            db.close()
