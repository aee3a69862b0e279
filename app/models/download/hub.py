"""What the hub says about a repository: its GGUF files with sizes and LFS checksums.

One ``HfApi.model_info(files_metadata=True)`` call; every failure becomes a one-line
DownloadError.
"""

from __future__ import annotations

from dataclasses import dataclass

from huggingface_hub import HfApi
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import ModelInfo, RepoSibling
from huggingface_hub.utils import httpx, validate_repo_id

from app import __version__
from app.models.download.errors import DownloadError


@dataclass(frozen=True)
class RemoteFile:
    """A file in a hub repository, as ``model_info(files_metadata=True)`` describes it."""

    name: str
    size: int | None
    sha256: str | None  # None when the file is not in LFS (then it cannot be verified)


def clean_endpoint(endpoint: str | None) -> str | None:
    """The endpoint without a trailing slash (URLs are built by appending to it)."""
    return endpoint.rstrip("/") if endpoint else None


def _where(endpoint: str | None) -> str:
    return endpoint or hf_constants.ENDPOINT


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message: errors reach the user as one line."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


_NO_NAME = ("name or service not known", "temporary failure in name resolution", "getaddrinfo",
            "nodename nor servname", "no address associated")


def connect_words(exc: BaseException) -> str:
    """A failed connection in the user's terms: offline is the usual reason, and it is not a fault."""
    text = first_line(exc).lower()
    if any(words in text for words in _NO_NAME):
        return ("no network connection (the hub's address does not resolve); Kestrel works offline "
                "with the models you already have")
    if "refused" in text:
        return "nothing answers there (connection refused)"
    return first_line(exc)


def no_hub_side_requests() -> None:
    """Stop huggingface-hub from contacting huggingface.co behind our back.

    Why: with telemetry on, huggingface-hub 2.x builds its user agent by fetching
    ``{HF_ENDPOINT}/api/agent-harnesses`` from the default hub (not the endpoint passed per
    call) and caching it under ``HF_HOME``: a request the user did not ask for, to a host they
    may not have chosen, with up to 3 s of delay when it is unreachable. The documented opt-out
    is ``HF_HUB_DISABLE_TELEMETRY``, read once at import, so the constant is set here; the
    library reads it on every call.
    """
    hf_constants.HF_HUB_DISABLE_TELEMETRY = True


def model_info(repo_id: str, endpoint: str | None, revision: str, token: str | bool | None,
               timeout: float) -> ModelInfo:
    """model_info with files metadata; every failure becomes a one-line DownloadError."""
    where = _where(endpoint)
    no_hub_side_requests()
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise DownloadError(f"{repo_id!r} is not a valid repository id (expected owner/name)") from exc
    api = HfApi(endpoint=endpoint, token=token, library_name="kestrel", library_version=__version__)
    try:
        return api.model_info(repo_id, revision=revision, files_metadata=True, timeout=timeout)
    except GatedRepoError as exc:
        raise DownloadError(f"{repo_id} is gated on {where}: accept its terms on the model page "
                            "and log in with `hf auth login` first") from exc
    except RepositoryNotFoundError as exc:
        raise DownloadError(f"repository {repo_id} not found on {where} (check the name; "
                            "private repositories need `hf auth login`)") from exc
    except RevisionNotFoundError as exc:
        raise DownloadError(f"revision {revision!r} not found in {repo_id}") from exc
    except DisabledRepoError as exc:
        raise DownloadError(f"repository {repo_id} is disabled on {where}") from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise DownloadError(f"{where} answered HTTP {status} for {repo_id}: {first_line(exc)}") from exc
    except OfflineModeIsEnabled as exc:
        raise DownloadError("the Hugging Face hub is switched off here (HF_HUB_OFFLINE is set)") from exc
    except httpx.ConnectError as exc:
        raise DownloadError(f"cannot reach {where}: {connect_words(exc)}") from exc
    except httpx.HTTPError as exc:
        raise DownloadError(f"cannot reach {where}: {first_line(exc)}") from exc
    except ValueError as exc:  # a body that is not the JSON the hub sends
        raise DownloadError(f"{where} sent an unexpected answer for {repo_id}: {first_line(exc)}") from exc


def remote_file(sibling: RepoSibling) -> RemoteFile:
    lfs = sibling.lfs
    size = lfs.size if lfs is not None else sibling.size
    sha = lfs.sha256.lower() if lfs is not None and lfs.sha256 else None
    return RemoteFile(sibling.rfilename, size, sha)


def list_gguf_files(repo_id: str, endpoint: str | None = None, revision: str = "main", *,
                    token: str | bool | None = None, timeout: float = 30.0) -> list[RemoteFile]:
    """The GGUF files of a repository with sizes and SHA-256, sorted by name (one API call)."""
    info = model_info(repo_id, clean_endpoint(endpoint), revision, token, timeout)
    files = [remote_file(s) for s in info.siblings or [] if s.rfilename.lower().endswith(".gguf")]
    return sorted(files, key=lambda f: f.name)
