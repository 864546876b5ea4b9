"""Write-ahead journal of incoming updates: no question is lost to a crash, a restart or an outage.

An update is written to `DATA_DIR/updates/<update_id>.json` as it enters the update queue,
that is before the next getUpdates call acknowledges it to Telegram, and deleted once it
has been handled. It stays when its answer could not be delivered (the Bot API was
unreachable, or shutdown cut its handling short), and the next start handles it again.
Delivery is therefore at least once: an update whose answer went out just before a crash
is answered a second time. An update that keeps failing is dropped after MAX_ATTEMPTS
starts, so one poisonous update cannot crash every start.

The files are small (one update, a few KB) and written without fsync: a killed process
loses nothing (the data is in the page cache), only a power failure can.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from telegram import Bot, Update

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


class UpdateJournal:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._undelivered: set[int] = set()

    def _path(self, update_id: int) -> Path:
        return self.folder / f"{update_id}.json"

    def record(self, update: Update) -> None:
        """Write the update down. Never raises: a journal problem must not stop the intake."""
        path = self._path(update.update_id)
        try:
            # Button payloads (arbitrary_callback_data) are JSON already; anything else, such as
            # InvalidCallbackData, is kept as text and answered as an expired button on replay.
            entry = json.dumps({"attempts": 0, "update": update.to_dict()}, ensure_ascii=False, default=repr)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(entry, "utf-8")
            os.replace(tmp, path)
        except (OSError, TypeError, ValueError) as problem:
            log.error("could not journal update %s: %s", update.update_id, problem)

    def undelivered(self, update: Update) -> None:
        """Its answer did not reach Telegram: keep it for the next start."""
        self._undelivered.add(update.update_id)

    def done(self, update: Update) -> None:
        """Handled: forget it, unless it was marked undelivered."""
        if update.update_id in self._undelivered:
            self._undelivered.discard(update.update_id)
            return
        self._path(update.update_id).unlink(missing_ok=True)

    def replay(self, bot: Bot) -> list[Update]:
        """What the last run left unanswered, oldest first; counts this attempt."""
        updates = []
        for path in sorted(self.folder.glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0):
            try:
                entry = json.loads(path.read_text("utf-8"))
                attempts = int(entry["attempts"]) + 1
                update = Update.de_json(entry["update"], bot)
            except (ValueError, KeyError, TypeError) as problem:
                log.error("dropping unreadable journal entry %s: %s", path.name, problem)
                path.unlink(missing_ok=True)
                continue
            if attempts > MAX_ATTEMPTS:
                log.error("dropping update %s: not answered after %d starts", path.stem, MAX_ATTEMPTS)
                path.unlink(missing_ok=True)
                continue
            entry["attempts"] = attempts
            path.write_text(json.dumps(entry, ensure_ascii=False), "utf-8")
            updates.append(update)
        for tmp in self.folder.glob("*.tmp"):  # a crash between write and rename
            tmp.unlink(missing_ok=True)
        return updates


class JournalingQueue(asyncio.Queue):
    """The Application's update queue, writing every update to the journal as it is queued
    (polling and the webhook server both put updates here)."""

    def __init__(self, journal: UpdateJournal) -> None:
        super().__init__()
        self.journal = journal
        self._replayed: set[int] = set()

    def replay(self, bot: Bot) -> int:
        """Queue what the last run left unanswered; returns how many."""
        for update in self.journal.replay(bot):
            self._replayed.add(update.update_id)
            super().put_nowait(update)
        return len(self._replayed)

    def put_nowait(self, item: object) -> None:
        if isinstance(item, Update):
            if item.update_id in self._replayed:
                # Telegram sends it again when the last run could not acknowledge it.
                self._replayed.discard(item.update_id)
                log.info("update %s is already being answered from the journal", item.update_id)
                return
            self.journal.record(item)
        super().put_nowait(item)
