"""An index build in a child process, so that it can be cancelled.

A build in a thread cannot be stopped: shutting down would wait for it (seconds to minutes,
growing with the corpus). A child process can be killed at any moment; the live index is
never touched until the build switches `CURRENT` atomically at its very end, and the
staging folder a killed build leaves is removed right away (and by `remove_leftovers` at
the next start otherwise). The child also dies when its parent does, so a killed bot
never leaves a build running behind it.

    python -m retrieval.buildjob SEEDS_DIR INDEX_DIR MODEL   (prints the BuildReport as JSON)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from retrieval import errors
from retrieval.corpus import CorpusWarning
from retrieval.errors import CorpusError, RetrievalError
from retrieval.index import BuildReport, Manifest, remove_leftovers

log = logging.getLogger(__name__)

# Settings the child has no use for; it never sees the bot's secrets.
_SECRET_MARKERS = ("TOKEN", "SECRET", "KEY", "PASSWORD")
_ORPHAN_CHECK_SECONDS = 0.5


class BuildCancelledError(RetrievalError):
    """The build was stopped before it finished; the live index is unchanged."""


class BuildJob:
    """One build in a child process: `await job.run()` for the report, `job.cancel()` to kill it."""

    def __init__(self, seeds_dir: Path, index_dir: Path, model: str) -> None:
        self.seeds_dir, self.index_dir, self.model = Path(seeds_dir), Path(index_dir), model
        self._process: asyncio.subprocess.Process | None = None
        self._cancelled = False

    async def run(self) -> BuildReport:
        """The report of a finished build; raises what the build raised (CorpusError, OSError,
        ...) or BuildCancelledError."""
        env = {k: v for k, v in os.environ.items() if not any(m in k.upper() for m in _SECRET_MARKERS)}
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "retrieval.buildjob",
            str(self.seeds_dir),
            str(self.index_dir),
            self.model,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own process group: cancel() kills its workers too
        )
        try:
            out, _ = await self._process.communicate()
        except asyncio.CancelledError:
            self.cancel()
            await self._process.wait()
            raise
        finally:
            if self._process.returncode != 0:
                await asyncio.to_thread(remove_leftovers, self.index_dir)
        if self._cancelled:
            raise BuildCancelledError("the build was cancelled; the index was not changed")
        return _decode(out.decode("utf-8", "replace"), self._process.returncode)

    def cancel(self) -> None:
        """Kill the build now (idempotent); `run` then raises BuildCancelledError."""
        self._cancelled = True
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)


def _decode(out: str, returncode: int | None) -> BuildReport:
    lines = out.strip().splitlines()
    try:
        payload = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RetrievalError(f"the build process failed (exit status {returncode})") from None
    if "error" in payload:
        raise _error(payload)
    manifest = Manifest(**payload.pop("manifest"))
    warnings = tuple(
        CorpusWarning(w["text"], w["code"], w["name"], w["other"]) if w.get("code") else w["text"]
        for w in payload.pop("warnings")
    )
    return BuildReport(manifest=manifest, warnings=warnings, **payload)


def _error(payload: dict) -> Exception:
    name, message = payload["error"], payload["message"]
    if name == "OSError":
        return OSError(payload.get("errno") or 0, message)
    cls = getattr(errors, name, RetrievalError)
    if not (isinstance(cls, type) and issubclass(cls, RetrievalError)):
        cls = RetrievalError
    if issubclass(cls, CorpusError):
        return cls(payload["path"], payload["problem"])
    return cls(message)


def _encode_error(exc: Exception) -> dict:
    if isinstance(exc, CorpusError):
        return {"error": type(exc).__name__, "message": str(exc), "path": exc.path, "problem": exc.problem}
    if isinstance(exc, RetrievalError):
        return {"error": type(exc).__name__, "message": str(exc)}
    return {"error": "OSError", "message": exc.strerror or str(exc), "errno": exc.errno}


def _exit_with_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_ORPHAN_CHECK_SECONDS)
        os._exit(3)  # the parent died (killed): nobody wants this build any more

    threading.Thread(target=watch, daemon=True, name="orphan-check").start()


def main(argv: list[str]) -> int:
    from retrieval.embedder import load_embedder
    from retrieval.index import build_index
    from retrieval.runtime import quiet_noisy_loggers
    from retrieval.text import Analyzer

    _exit_with_parent()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_noisy_loggers()
    seeds_dir, index_dir, model = argv
    try:
        report = build_index(Path(seeds_dir), Path(index_dir), load_embedder(model), Analyzer())
    except (RetrievalError, OSError) as exc:
        print(json.dumps(_encode_error(exc), ensure_ascii=False))
        return 2
    payload = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
    payload["manifest"] = dataclasses.asdict(report.manifest)
    # Warnings are strings that may carry what the bot needs to word them (CorpusWarning).
    payload["warnings"] = [
        {"text": str(w), **{key: getattr(w, key, None) for key in ("code", "name", "other")}}
        for w in report.warnings
    ]
    print(json.dumps(payload, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
