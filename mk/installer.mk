# The frozen one-folder build (installer.spec, docs/install.md). Included from the Makefile.
#
#   make installer        builds dist/sim-desk/ in its own clean build venv, .venv-installer
#   make installer-smoke  builds, then runs the frozen `sim-desk --version` and `self-test`
#                         headless, starts the frozen GUI offscreen, and reports the size
#
# The build venv holds the app's own dependencies and PyInstaller, nothing from the test extras,
# and is made afresh whenever pyproject.toml or the PyInstaller pin changes.

PYINSTALLER_VERSION := 6.22.3
INSTALLER_VENV := .venv-installer
INSTALLER_BIN := $(INSTALLER_VENV)/bin
INSTALLER_STAMP := $(INSTALLER_VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)-pyinstaller-$(PYINSTALLER_VERSION)

.PHONY: installer installer-smoke

$(INSTALLER_STAMP): pyproject.toml mk/installer.mk
	rm -rf $(INSTALLER_VENV)
	$(or $(PYTHON),python3) -m venv $(INSTALLER_VENV)
	$(INSTALLER_BIN)/python -m pip install --quiet --upgrade pip
	$(INSTALLER_BIN)/python -m pip install --quiet -e . pyinstaller==$(PYINSTALLER_VERSION)
	touch $(INSTALLER_STAMP)

## Build dist/sim-desk/ (one folder; run dist/sim-desk/sim-desk) with PyInstaller.
installer: $(INSTALLER_STAMP)
	rm -rf build/installer dist/sim-desk
	$(INSTALLER_BIN)/pyinstaller --noconfirm --clean --log-level WARN installer.spec
	@du -sh dist/sim-desk

## Build, then check the frozen app: --version, self-test, the GUI starting; print the size.
installer-smoke: installer
	mk/installer-smoke.sh dist/sim-desk
