# pbxedge — two commands: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTHON ?= python3
# Debian packages: PortAudio for local phones; libgsm for the GSM codec; tshark, nmap and
# iaxmodem are test peers.
APT_PACKAGES := libportaudio2 libgsm1 tshark nmap iaxmodem
STAMP := $(VENV)/.installed

.PHONY: run test lint bench deps apt keyperms clean

run: $(STAMP) keyperms
	$(VENV)/bin/pbxedge -c configs/iax.conf

test: $(STAMP) keyperms
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check pbxedge dialplan tests bench
	$(VENV)/bin/mypy pbxedge dialplan

# Speed figures, then the long property runs (100 000 random datagrams through the decoder).
bench: $(STAMP) keyperms
	$(PY) -m bench
	$(PY) -m pytest -m slow -q

# git does not keep file modes, and private keys must be 0600 (as Asterisk demands).
keyperms:
	@chmod 600 keys/*.key 2>/dev/null || true

deps: $(STAMP)

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml | apt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
