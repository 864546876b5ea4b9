"""The project's error hierarchy: callers catch these, users see their messages."""


class RetrievalError(Exception):
    """Base class for every error the retrieval layer raises on purpose."""


class CorpusError(RetrievalError):
    """A corpus file or sources.toml cannot be used; the message names the file and the problem."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class IndexMissingError(RetrievalError):
    """No index has been built in the index folder yet."""


class IndexCorruptError(RetrievalError):
    """The index folder exists but its files are damaged or incomplete."""


class StaleIndexError(RetrievalError):
    """The index was built with another model, format or corpus than the current one."""


class ModelLoadError(RetrievalError):
    """The embedding model could not be loaded (missing path, hub unreachable, bad folder)."""


class ReindexBusyError(RetrievalError):
    """A reindex is already running; a second one is not started."""


class UploadRejectedError(RetrievalError):
    """An uploaded article was not accepted; the message says why."""


class ArticleExistsError(UploadRejectedError):
    """An article with that file name exists; replacing it needs confirmation."""
