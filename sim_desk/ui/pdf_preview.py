"""A preview of a PDF made in memory, with Save as… and Print….

Reports are built as bytes and shown from those bytes: pages are rasterised with PDFium
(pypdfium2) straight from memory, so nothing touches the disk until the user chooses Save as…,
which writes where they chose, atomically, owner-only (``reports.pdf.write_pdf``). Printing
paints page images rendered at the printer's resolution.

PDFium is not thread-safe, so every call into it happens here, on the GUI thread. Pages are
rendered one per turn of the event loop, so the dialog appears at once and stays responsive.
"""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtGui import QImage, QKeySequence, QPageLayout, QPageSize, QPainter, QPixmap
from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from sim_desk.reports.pdf import write_pdf

#: Zoom choices; 100% shows an A4 page at its real size on a 96 dpi screen.
ZOOMS = (50, 75, 100, 125, 150)
SCREEN_DPI = 96
#: Printing at more than this wastes memory and time without a visibly better page.
MAX_PRINT_DPI = 300
POINTS_PER_INCH = 72


class PdfUnreadable(Exception):
    """The bytes are not a PDF PDFium can read (a bug in whatever made them)."""


def render_page(document: pdfium.PdfDocument, index: int, dpi: float) -> QImage:
    """Page ``index`` (from 0) as an image at ``dpi`` dots per inch, white background."""
    page = document[index]
    try:
        bitmap = page.render(scale=dpi / POINTS_PER_INCH, rev_byteorder=True, prefer_bgrx=True)
        try:
            image = QImage(
                bytes(bitmap.buffer),
                bitmap.width,
                bitmap.height,
                bitmap.stride,
                QImage.Format.Format_RGBX8888,
            )
            # The QImage above borrows a temporary buffer: copy it before that goes away.
            return image.copy()
        finally:
            bitmap.close()
    finally:
        page.close()


def open_document(pdf_bytes: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(pdf_bytes)
    except pdfium.PdfiumError as error:
        raise PdfUnreadable(str(error)) from None


class PdfPreviewDialog(QDialog):
    """Shows ``pdf_bytes`` page by page. ``title`` must hold no personal data (it is a window
    title, seen in task bars and screen shares): "Person outcome report", not a name.

    Attributes:
        page_count: pages in the document.
        pages_rendered: pages drawn so far at the current zoom.
        saved_to: where the user last saved it, if anywhere.
    """

    def __init__(
        self,
        pdf_bytes: bytes,
        title: str,
        parent: QWidget | None = None,
        *,
        suggested_name: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.pdf_bytes = pdf_bytes
        self.title = title
        self.suggested_name = suggested_name or f"{title}.pdf"
        self.saved_to: Path | None = None
        self.setWindowTitle(title)
        self.setAccessibleName(f"{title} preview")
        self.setObjectName("pdfPreview")
        self.resize(920, 900)

        document = open_document(pdf_bytes)
        self._document: pdfium.PdfDocument | None = document
        self.page_count = len(document)
        # Also closed when the dialog goes with its parent (the app locking), not only on close.
        self.destroyed.connect(lambda *_: document.close())
        self.pages_rendered = 0
        self._labels: list[QLabel] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._render_next)

        self.info = QLabel(self._pages_text())
        self.info.setObjectName("hint")
        self.info.setAccessibleName("Pages")
        self.zoom = QComboBox()
        self.zoom.setAccessibleName("Zoom")
        for percent in ZOOMS:
            self.zoom.addItem(f"{percent}%", percent)
        self.zoom.setCurrentIndex(ZOOMS.index(100))
        self.zoom.currentIndexChanged.connect(self._rerender)
        zoom_label = QLabel("&Zoom")
        zoom_label.setBuddy(self.zoom)

        self.save_button = QPushButton("&Save as…")
        self.save_button.setAccessibleName("Save as PDF")
        self.save_button.setToolTip("Save a copy where you choose (Ctrl+S)")
        self.save_button.setShortcut(QKeySequence.StandardKey.Save)
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.ask_save)
        self.print_button = QPushButton("&Print…")
        self.print_button.setAccessibleName("Print")
        self.print_button.setToolTip("Print (Ctrl+P)")
        self.print_button.setShortcut(QKeySequence.StandardKey.Print)
        self.print_button.clicked.connect(self.ask_print)
        self.close_button = QPushButton("Close")
        self.close_button.setAccessibleName("Close preview")
        self.close_button.clicked.connect(self.reject)
        for button in (self.save_button, self.print_button, self.close_button):
            # Only the focused button's own key presses act: Enter never saves or prints.
            button.setAutoDefault(False)
        self.status = QLabel(
            "Nothing has been saved: this preview is held in memory only. Save or print it,"
            " then close."
        )
        self.status.setObjectName("hint")
        self.status.setAccessibleName("Save status")
        self.status.setWordWrap(True)

        bar = QHBoxLayout()
        bar.addWidget(self.info)
        bar.addStretch(1)
        bar.addWidget(zoom_label)
        bar.addWidget(self.zoom)
        bar.addSpacing(12)
        bar.addWidget(self.save_button)
        bar.addWidget(self.print_button)
        bar.addWidget(self.close_button)

        self.pages = QWidget()
        self.pages.setObjectName("pdfPages")
        self._pages_layout = QVBoxLayout(self.pages)
        self._pages_layout.setContentsMargins(16, 16, 16, 16)
        self._pages_layout.setSpacing(16)
        self._pages_layout.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        for number in range(1, self.page_count + 1):
            label = QLabel()
            label.setObjectName("pdfPage")
            label.setAccessibleName(f"Page {number} of {self.page_count}")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self._labels.append(label)
            self._pages_layout.addWidget(label, 0, Qt.AlignmentFlag.AlignHCenter)
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("pdfScroll")
        self.scroll_area.setAccessibleName("Report pages")
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(self.pages)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.scroll_area, 1)
        self._rerender()
        self.save_button.setFocus()

    # -- rendering ------------------------------------------------------------------------
    def _pages_text(self) -> str:
        return f"{self.page_count} page" + ("" if self.page_count == 1 else "s")

    def _dpi(self) -> float:
        ratio = self.devicePixelRatioF() or 1.0
        return SCREEN_DPI * int(self.zoom.currentData()) / 100 * ratio

    def _rerender(self) -> None:
        """Starts drawing every page again (at a new zoom); placeholders keep the layout."""
        if self._document is None:
            return
        self.pages_rendered = 0
        scale = int(self.zoom.currentData()) / 100 * SCREEN_DPI / POINTS_PER_INCH
        for index, label in enumerate(self._labels):
            width, height = self._document.get_page_size(index)
            # +2 for the page's 1-pixel border (style.qss #pdfPage).
            label.setFixedSize(QSize(round(width * scale) + 2, round(height * scale) + 2))
        self._timer.start()

    def _render_next(self) -> None:
        if self._document is None or self.pages_rendered >= self.page_count:
            return
        index = self.pages_rendered
        image = render_page(self._document, index, self._dpi())
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF() or 1.0)
        self._labels[index].setPixmap(pixmap)
        self.pages_rendered += 1
        if self.pages_rendered < self.page_count:
            self._timer.start()

    # -- saving ---------------------------------------------------------------------------
    def ask_save(self) -> None:
        folder = self.saved_to.parent if self.saved_to else Path.home()
        name, _ = QFileDialog.getSaveFileName(
            self, f"Save {self.title}", str(folder / self.suggested_name), "PDF (*.pdf)"
        )
        if name:
            path = Path(name)
            self.save_to(path if path.suffix.lower() == ".pdf" else path.with_suffix(".pdf"))

    def save_to(self, path: Path) -> bool:
        """Writes the PDF to ``path`` (atomically, mode 0600). Returns whether it was written."""
        try:
            write_pdf(Path(path), self.pdf_bytes)
        except OSError as error:
            QMessageBox.warning(
                self,
                self.title,
                f"The PDF could not be saved there ({error.strerror or 'not writable'})."
                " Choose another folder.",
            )
            return False
        self.saved_to = Path(path)
        self.status.setText(
            f"Saved to {path}. Only you can open the file; delete it once it has been used."
        )
        return True

    # -- printing -------------------------------------------------------------------------
    def ask_print(self) -> None:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        printer.setPageOrientation(QPageLayout.Orientation.Portrait)
        printer.setDocName(self.title)
        dialog = QPrintDialog(printer, self)
        dialog.setWindowTitle(f"Print {self.title}")
        dialog.setMinMax(1, self.page_count)
        dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintPageRange, True)
        dialog.setOption(QAbstractPrintDialog.PrintDialogOption.PrintToFile, False)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            printed = self.print_to(printer)
            if printed:
                self.status.setText(f"Sent {printed} page{'s' if printed != 1 else ''} to print.")

    def print_to(self, printer: QPrinter) -> int:
        """Paints the pages (the range chosen in the print dialog, if any) on ``printer``, each
        rendered at the printer's resolution and fitted to its printable area. Returns the
        number of pages printed."""
        if self._document is None:
            return 0
        first, last = 1, self.page_count
        if printer.printRange() == QPrinter.PrintRange.PageRange and printer.fromPage() > 0:
            first = max(1, printer.fromPage())
            last = min(self.page_count, printer.toPage() or self.page_count)
        dpi = min(printer.resolution(), MAX_PRINT_DPI)
        painter = QPainter()
        if not painter.begin(printer):
            QMessageBox.warning(
                self, self.title, "The printer could not be started. Check it and try again."
            )
            return 0
        printed = 0
        try:
            for number in range(first, last + 1):
                if printed:
                    printer.newPage()
                image = render_page(self._document, number - 1, dpi)
                area = painter.viewport()
                fitted = image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
                target = QRect(
                    area.x() + (area.width() - fitted.width()) // 2,
                    area.y() + (area.height() - fitted.height()) // 2,
                    fitted.width(),
                    fitted.height(),
                )
                painter.drawImage(target, image)
                printed += 1
        finally:
            painter.end()
        return printed

    # -- closing --------------------------------------------------------------------------
    def done(self, result: int) -> None:
        """Drops the rendered pages and the document as the dialog closes."""
        self._timer.stop()
        if self._document is not None:
            self._document.close()
            self._document = None
        for label in self._labels:
            label.clear()
        super().done(result)


def show_pdf(
    parent: QWidget, pdf_bytes: bytes, title: str, *, suggested_name: str | None = None
) -> PdfPreviewDialog | None:
    """Opens a preview window-modally (the app keeps running) and returns it; it is deleted
    when closed, and with its parent (so locking the app destroys it). Returns None if the
    bytes cannot be shown (the error has been reported)."""
    try:
        dialog = PdfPreviewDialog(pdf_bytes, title, parent, suggested_name=suggested_name)
    except PdfUnreadable as error:  # a bug in whatever made the PDF: say so, keep running
        from sim_desk.ui.messages import show_error

        show_error(parent, error, title=title)
        return None
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
