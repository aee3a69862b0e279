"""Download a GGUF file from the Hugging Face hub: list a repository, progress with speed and ETA,
Cancel that keeps the partial file (the button then says Resume), and clear errors.

Nothing here touches the network until the user presses "List files" or "Download". Both
run as background tasks (``run_task``). ``DownloadRunner`` runs one download and reports its
progress; this section and the catalog (``catalog_view``) each drive one.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.base.units import format_bytes, format_duration
from app.models.library import Library
from app.ui.models.common import safe_emit, tr
from app.ui.widgets.tasks import run_task

if TYPE_CHECKING:  # app.models.download imports huggingface_hub (0.2 s): only on first use
    from app.models.download import DownloadProgress, DownloadResult, RemoteFile

#: what a hub call is expected to fail with, besides app.models.download.DownloadError
_EXPECTED: tuple[type[BaseException], ...] = (OSError, ValueError, RuntimeError)


def describe_error(message: str) -> str:
    """One line for the user; the hub being unreachable is said plainly."""
    text = message.strip()
    if text.startswith("cannot reach "):
        return tr("Could not reach the hub: ") + text.split(": ", 1)[-1]
    return text[:1].upper() + text[1:]


def progress_text(p: DownloadProgress) -> str:
    """``45.1 MiB / 241 MiB · 12.3 MiB/s · ETA 16 s`` (or what is being checked), in the UI's language."""
    amount = format_bytes(p.done) + (f" / {format_bytes(p.total)}" if p.total else "")
    if p.phase == "checking":
        return tr("checking the partial file · %1").replace("%1", amount)
    if p.phase == "verifying":
        return tr("verifying · %1").replace("%1", amount)
    if p.phase == "done":
        return tr("done · %1").replace("%1", amount)
    if p.phase == "retrying":
        return amount + " · " + (p.note or tr("retrying"))
    parts = [amount]
    if p.speed > 0:
        parts.append(f"{format_bytes(p.speed)}/s")
    if p.eta is not None:
        parts.append(tr("ETA %1").replace("%1", format_duration(p.eta)))
    return " · ".join(parts)


class DownloadRunner(QObject):
    """One download at a time, on a background task; ``stop`` keeps the partial file.

    Starting the same file again resumes from the bytes kept: that is Cancel/Resume here and
    Pause/Resume in the catalog. Every signal arrives on the GUI thread.
    """

    progress = Signal(object)  # DownloadProgress
    finished = Signal(object)  # DownloadResult: the file is in place, verified and in the library
    stopped = Signal()  # stop() took effect; the partial file is kept
    failed = Signal(str)  # one line for the user (describe_error applied)
    _report = Signal(object)  # DownloadProgress, emitted on the download's thread

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.dest_dir: Path | None = None  # None: Kestrel's models folder
        self.repo = ""  # of the download running, or the last one
        self.filename = ""
        self._stop: threading.Event | None = None
        self._report.connect(self._on_report)

    @property
    def running(self) -> bool:
        return self._stop is not None

    def start(self, repo: str, filename: str, endpoint: str | None) -> bool:
        """Download (or resume) ``filename`` of ``repo``; False when one is already running."""
        if self.running:
            return False
        stop = threading.Event()
        self._stop, self.repo, self.filename = stop, repo, filename
        library, dest = self.library, self.dest_dir
        from app.models import download as dl  # noqa: PLC0415 - huggingface_hub: only when asked

        def body() -> dl.DownloadResult:
            return dl.download_file(repo, filename, endpoint=endpoint, dest_dir=dest, library=library, stop=stop,
                                    progress=lambda p: safe_emit(self._report, p))

        task = run_task("download", body, self, expected=(dl.DownloadError, *_EXPECTED))
        task.done.connect(self._on_done)
        task.failed.connect(self._on_failed)
        return True

    def stop(self) -> None:
        """Stop the transfer; the partial file is kept for the next start."""
        if self._stop is not None:
            self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def partial(self, repo: str, filename: str) -> int:
        """Bytes kept from an unfinished download of that file (imports the download package)."""
        from app.models.download import partial_size  # noqa: PLC0415

        return partial_size(repo, filename, self.dest_dir) if repo and filename else 0

    @Slot(object)
    def _on_report(self, p: DownloadProgress) -> None:
        if self.running:
            self.progress.emit(p)

    def _on_done(self, result: DownloadResult) -> None:
        self._stop = None
        self.finished.emit(result)

    def _on_failed(self, message: str) -> None:
        stopped = self.stopping  # stop() was called: a DownloadCancelled
        self._stop = None
        if stopped:
            self.stopped.emit()
        else:
            self.failed.emit(describe_error(message))


class DownloadSection(QWidget):
    """Repo and file (prefilled from the picker, or typed), List files, Download/Resume, Cancel."""

    downloaded = Signal(object)  # Path, registered in the library

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("downloadSection")
        self.library = library
        self.runner = DownloadRunner(library, self)
        self._listing = False

        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.repo_edit = QLineEdit()
        self.repo_edit.setObjectName("downloadRepo")
        self.repo_edit.setPlaceholderText("Qwen/Qwen2.5-0.5B-Instruct-GGUF")
        repo_row = QHBoxLayout()
        repo_row.addWidget(self.repo_edit, 1)
        self.list_button = QPushButton(self.tr("List files"))
        self.list_button.setObjectName("listFilesButton")
        self.list_button.clicked.connect(self.list_files)
        repo_row.addWidget(self.list_button)
        form.addRow(self.tr("Repository"), repo_row)
        self.file_combo = QComboBox()
        self.file_combo.setObjectName("downloadFile")
        file_edit = QLineEdit()  # editable: a file name can be typed without listing the repository
        file_edit.setPlaceholderText("qwen2.5-0.5b-instruct-q4_k_m.gguf")
        self.file_combo.setLineEdit(file_edit)
        form.addRow(self.tr("File"), self.file_combo)
        layout.addLayout(form)

        self.advanced = QGroupBox(self.tr("Advanced"))
        self.advanced.setObjectName("downloadAdvanced")
        self.advanced.setCheckable(True)
        self.advanced.setChecked(False)
        adv = QFormLayout(self.advanced)
        self.endpoint_edit = QLineEdit()
        self.endpoint_edit.setObjectName("downloadEndpoint")
        self.endpoint_edit.setPlaceholderText("https://huggingface.co")
        self.endpoint_edit.setVisible(False)
        self.endpoint_label = QLabel(self.tr("Hub address"))
        self.endpoint_label.setVisible(False)
        adv.addRow(self.endpoint_label, self.endpoint_edit)
        self.advanced.toggled.connect(self._on_advanced)
        layout.addWidget(self.advanced)

        buttons = QHBoxLayout()
        self.download_button = QPushButton(self.tr("Download"))
        self.download_button.setObjectName("downloadButton")
        self.download_button.clicked.connect(self.start)
        buttons.addWidget(self.download_button)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setObjectName("downloadCancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setObjectName("downloadProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        buttons.addWidget(self.progress, 100)
        buttons.addStretch(1)  # keeps the buttons their natural width while the bar is hidden
        layout.addLayout(buttons)
        self.status = QLabel(self.tr("Files are checked against the hub's SHA-256 before they are used. "
                                     "Nothing is fetched until you press a button."))
        self.status.setObjectName("downloadStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.repo_edit.textChanged.connect(lambda _t: self._refresh_buttons())
        self.file_combo.currentTextChanged.connect(lambda _t: self._refresh_buttons())
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_done)
        self.runner.stopped.connect(self._on_stopped)
        self.runner.failed.connect(self._on_failed)
        self._refresh_buttons()

    # ---- state ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.runner.running

    @property
    def dest_dir(self) -> Path | None:
        """Where downloads go (None: Kestrel's models folder)."""
        return self.runner.dest_dir

    @dest_dir.setter
    def dest_dir(self, folder: Path | None) -> None:
        self.runner.dest_dir = folder

    def repo(self) -> str:
        return self.repo_edit.text().strip()

    def filename(self) -> str:
        return self.file_combo.currentText().strip()

    def endpoint(self) -> str | None:
        return self.endpoint_edit.text().strip() or None

    def set_endpoint(self, url: str | None) -> None:
        self.advanced.setChecked(bool(url))
        self.endpoint_edit.setText(url or "")

    def prefill(self, repo: str, filename: str) -> None:
        """From the picker: fill in the fields; the user still presses Download."""
        if self.running:
            return
        self.repo_edit.setText(repo)
        self.file_combo.clear()
        self.file_combo.setEditText(filename)
        self._show(self.tr("Press Download to fetch %1 from %2.").replace("%1", filename).replace("%2", repo))

    def _partial(self) -> int:
        return self.runner.partial(self.repo(), self.filename())

    def _refresh_buttons(self) -> None:
        ready = bool(self.repo() and self.filename())
        self.list_button.setEnabled(bool(self.repo()) and not self._listing and not self.running)
        self.download_button.setEnabled(ready and not self.running)
        self.cancel_button.setEnabled(self.running)
        self.repo_edit.setEnabled(not self.running)
        self.file_combo.setEnabled(not self.running)
        self.advanced.setEnabled(not self.running)
        if not self.running:
            kept = self._partial() if ready else 0
            self.download_button.setText(self.tr("Resume") if kept else self.tr("Download"))
            self.download_button.setToolTip(self.tr("%1 already downloaded; continue from there")
                                            .replace("%1", format_bytes(kept)) if kept else "")

    def _on_advanced(self, on: bool) -> None:
        self.endpoint_edit.setVisible(on)
        self.endpoint_label.setVisible(on)
        if not on:
            self.endpoint_edit.clear()

    # ---- actions -------------------------------------------------------------------------
    def list_files(self) -> None:
        repo, endpoint = self.repo(), self.endpoint()
        if not repo or self._listing:
            return
        self._listing = True
        self._refresh_buttons()
        self._show(self.tr("Asking the hub for the files of %1…").replace("%1", repo))
        from app.models import download as dl  # noqa: PLC0415 - huggingface_hub: only when asked

        task = run_task("list-files", lambda: dl.list_gguf_files(repo, endpoint), self,
                        expected=(dl.DownloadError, *_EXPECTED))
        task.done.connect(self._on_listed)
        task.failed.connect(self._on_list_failed)

    def start(self) -> None:
        repo, name, endpoint = self.repo(), self.filename(), self.endpoint()
        if not repo or not name or not self.runner.start(repo, name, endpoint):
            return
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)  # busy until the size is known
        self._refresh_buttons()
        self._show(self.tr("Connecting…"))

    def cancel(self) -> None:
        if self.running:
            self.runner.stop()
            self.cancel_button.setEnabled(False)
            self._show(self.tr("Stopping…"))

    def shutdown(self) -> None:
        self.runner.stop()

    # ---- results (GUI thread) --------------------------------------------------------------
    def _on_progress(self, p: DownloadProgress) -> None:
        fraction = p.fraction
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        self._show(f"{p.filename}: {progress_text(p)}")

    def _on_listed(self, files: list[RemoteFile]) -> None:
        self._listing = False
        typed = self.file_combo.currentText().strip()
        self.file_combo.clear()
        for f in files:
            size = format_bytes(f.size) if f.size else self.tr("size unknown")
            self.file_combo.addItem(f.name, f.name)
            self.file_combo.setItemData(self.file_combo.count() - 1, size, Qt.ItemDataRole.ToolTipRole)
        names = [f.name for f in files]
        if typed in names:
            self.file_combo.setCurrentIndex(names.index(typed))
        elif typed:
            self.file_combo.setEditText(typed)
        sizes = ", ".join(f"{f.name} ({format_bytes(f.size) if f.size else '?'})" for f in files[:6])
        more = self.tr(" and %1 more").replace("%1", str(len(files) - 6)) if len(files) > 6 else ""
        self._show(self.tr("%1 GGUF files: ").replace("%1", str(len(files))) + sizes + more if files
                   else self.tr("This repository has no GGUF files."))
        self._refresh_buttons()

    def _on_list_failed(self, message: str) -> None:
        self._listing = False
        self._show(describe_error(message), error=True)
        self._refresh_buttons()

    def _on_done(self, result: DownloadResult) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self._refresh_buttons()
        resumed = (self.tr(" (resumed from %1)").replace("%1", format_bytes(result.resumed_from))
                   if result.resumed_from else "")
        verified = self.tr("verified") if result.verified else self.tr("not verified")
        self._show(self.tr("Downloaded %1, %2, %3%4. It is in the list now.").replace("%1", result.path.name)
                   .replace("%2", format_bytes(result.size)).replace("%3", verified).replace("%4", resumed))
        self.downloaded.emit(result.path)

    def _on_stopped(self) -> None:
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        self._refresh_buttons()
        self._show(self.tr("Stopped. The partial file is kept; press Resume to continue."))

    def _on_failed(self, message: str) -> None:
        self.progress.setVisible(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        self._refresh_buttons()
        self._show(message, error=True)

    def _show(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("error", error)
        self.status.setStyleSheet("color: #d93025;" if error else "")
