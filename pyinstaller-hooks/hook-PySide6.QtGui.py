"""SIM Desk's replacement for PyInstaller's own PySide6.QtGui hook (installer.spec puts this
folder first on the hook path, and PyInstaller then uses this hook instead of its own).

PyInstaller's hook collects every plugin folder that belongs to QtGui, and each plugin's
libraries with it: the virtual keyboard brings QtQml and QtQuick, the GTK 3 theme brings the
build machine's GTK, pango and cairo, the network-information plugins bring QtNetwork. This hook
collects the same thing and keeps only the plugins SIM Desk can use, before PyInstaller looks at
their libraries, so nothing a left-out plugin needs is ever collected.
"""

from pathlib import Path

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

#: Qt plugins kept, by plugin folder: a plugin stays if its file name contains one of the words
#: ("" keeps the whole folder). A plugin folder not listed here is left out whole.
QT_PLUGINS = {
    # xcb and wayland for Linux desktops, offscreen for `self-test` and headless checks,
    # windows and cocoa for builds made on those systems.
    "platforms": ["xcb", "wayland", "offscreen", "windows", "cocoa"],
    "platforms/darwin": [""],
    # Window decorations and the xdg-shell protocol, without which no window appears on Wayland.
    "wayland-decoration-client": [""],
    "wayland-shell-integration": ["xdg"],
    # The app icon is an SVG; PNG support is built into QtGui.
    "iconengines": ["svg"],
    "imageformats": ["svg"],
    # Typing names in other scripts needs input methods (IBus) and dead keys (compose).
    "platforminputcontexts": ["ibus", "compose"],
    # Native file dialogs through the desktop portal. The GTK 3 theme is left out: it links the
    # build machine's GTK, which would then be bundled.
    "platformthemes": ["xdgdesktopportal"],
    # Windows 11 style on Windows (QtWidgets' folder; Linux wheels have none).
    "styles": [""],
}


def kept(src, dest_dir):
    """Whether one collected file stays: any Qt library, and the plugins QT_PLUGINS names."""
    parts = dest_dir.replace("\\", "/").split("/")
    if "plugins" not in parts:
        return True
    words = QT_PLUGINS.get("/".join(parts[parts.index("plugins") + 1 :]))
    return words is not None and any(word in Path(src).name.lower() for word in words)


hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [(src, dest_dir) for src, dest_dir in binaries if kept(src, dest_dir)]
