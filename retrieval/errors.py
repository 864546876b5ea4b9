"""The project's error hierarchy: callers catch these, users see their messages."""


class RetrievalError(Exception):
    """Base class for every error the retrieval layer raises on purpose."""


class CorpusError(RetrievalError):
    """A corpus file or sources.toml cannot be used; the message names the file and the problem.

    `code` names the kind of problem for callers that explain it in their own words (the bot's
    admin messages): "binary", "not_utf8", "too_big", "bad_header_date", "bad_sources", or None.
    """

    def __init__(self, path: str, problem: str, code: str | None = None) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
        self.code = code

    def __reduce__(self):  # errors cross process boundaries (the upload check runs in a worker)
        return (type(self), (self.path, self.problem, self.code))


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
    """An uploaded article was not accepted. `code` says why ("format", "too_big", "binary",
    "not_utf8", "bad_header_date", "empty", "duplicate", "exists"), `name` is the file, `details`
    the values a message needs (size, limit, other)."""

    def __init__(self, code: str, name: str, message: str, **details: object) -> None:
        super().__init__(f"{name}: {message}")
        self.code = code
        self.name = name
        self.message = message
        self.details = details

    def __reduce__(self):
        return (_rebuild_upload_error, (type(self), self.code, self.name, self.message, self.details))


class ArticleExistsError(UploadRejectedError):
    """An article with that file name exists; replacing it needs confirmation."""

    def __init__(self, name: str) -> None:
        super().__init__("exists", name, "an article with this file name exists")

    def __reduce__(self):
        return (ArticleExistsError, (self.name,))


def _rebuild_upload_error(cls: type, code: str, name: str, message: str, details: dict) -> RetrievalError:
    return cls(code, name, message, **details)


class ArticleNotFoundError(RetrievalError):
    """No article with that file name in the corpus folder."""


class ShrinkRefusedError(RetrievalError):
    """A reindex would swap in an empty index, or one that lost most articles at once; it runs
    only when the caller confirms."""

    def __init__(self, old_articles: int, new_articles: int) -> None:
        super().__init__(f"the new index would hold {new_articles} articles instead of {old_articles}")
        self.old_articles = old_articles
        self.new_articles = new_articles
