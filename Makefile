# Fashion Space Explorer: the two commands are `make run` and `make test` (see README.md).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
ARGS    ?=
PYTEST_ARGS ?=

.PHONY: run test boot-test lint setup setup-kiosk setup-system firmware bench bench-quick sheet install-appliance update-bundle clean

# A kiosk-only environment is small (no torch); the full one adds training, analysis and tests.
$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# pygame and pygame-ce install the same `pygame` package: a venv from before pygame-ce (pyproject.toml)
# loses pygame, and pygame-ce with it (pygame's uninstall took its files), so pygame-ce goes in whole.
NO_OLD_PYGAME := if $(BIN)/pip show -q pygame 2>/dev/null; then $(BIN)/pip uninstall -q -y pygame pygame-ce; fi

$(VENV)/.kiosk: pyproject.toml | $(BIN)/python
	$(NO_OLD_PYGAME)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.full: pyproject.toml | $(BIN)/python
	$(NO_OLD_PYGAME)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[train,analysis,test]'
	touch $@

setup-kiosk: $(VENV)/.kiosk
setup: setup-system $(VENV)/.full

setup-system:
	bash scripts/setup-system.sh

## The main job: the kiosk on the shipped models, windowed (add ARGS="--joystick sim" for the simulated board).
run: $(VENV)/.kiosk
	$(BIN)/fse-kiosk --windowed $(ARGS)

## Every test (installs what it needs first). FSE_FULL_INSTALL: every extra is installed, so a
## `pytest.importorskip` that cannot import is a broken install and fails (tests/conftest.py).
test: setup firmware lint
	FSE_FULL_INSTALL=1 SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy $(BIN)/python -m pytest $(PYTEST_ARGS)

## The appliance booted for real (systemd as PID 1 on an overlay of /, tests/test_boot.py); needs root.
## Also part of `make test`, where it is skipped with its reason when not root. About 1.5 min.
boot-test: setup
	SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy $(BIN)/python -m pytest -q -s tests/test_boot.py

## ruff: lint and format check (configured in pyproject.toml); `ruff format .` fixes the format.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

firmware:
	$(MAKE) -C firmware

bench: setup firmware
	$(BIN)/python -m benchmarks

bench-quick: setup firmware
	$(BIN)/python -m benchmarks --quick

sheet: setup
	$(BIN)/fse-train sheet --out docs/model_sheet.png

install-appliance:
	bash scripts/install-appliance.sh

## A signed update for the booths, from this checkout and its onnx_models/ (docs/appliance.md, "Updates from a USB stick"):
##   make update-bundle KEY=~/fse-update-key.pem [VERSION=0.2.0]   -> fse-update-<version>.fse-update
update-bundle: $(VENV)/.kiosk
	$(if $(KEY),,$(error give the private key: make update-bundle KEY=~/fse-update-key.pem (make one with $(BIN)/fse-update keygen FILE)))
	$(BIN)/fse-update build --key $(KEY) $(if $(VERSION),--version $(VERSION))

clean:
	rm -rf $(VENV) build *.egg-info
	$(MAKE) -C firmware clean || true
