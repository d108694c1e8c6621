# pbxedge — two commands: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTHON ?= python3
# Debian packages: PortAudio for local phones; libgsm for the GSM codec; espeak-ng speaks the
# prompts at install time (and a phone box's location); linux-libc-dev lets pip build evdev;
# tshark, nmap and iaxmodem are test peers; PulseAudio (a null sink, reached through the
# ALSA pulse plugin) is the clocked sound device of the local-phone tests; systemd's
# systemd-analyze checks the service unit; the Realtime tests and bench run a private
# PostgreSQL server; a C compiler and Python's headers build the compiled IAX2 core (setup.py).
APT_PACKAGES := libportaudio2 libgsm1 espeak-ng linux-libc-dev tshark nmap iaxmodem \
	libasound2-plugins pulseaudio pulseaudio-utils systemd postgresql build-essential python3-dev
STAMP := $(VENV)/.installed
# The install compiles the IAX2 core (setup.py): a change to it is installed again.
CORE_SOURCES := $(wildcard pbxedge/iax2/*.py)
# The English core prompts, spoken by espeak-ng into the package (not kept in git).
SOUNDS := pbxedge/sounds/.generated

# Where `make install-service` puts the node (the unit's ExecStart follows it).
PREFIX ?= /opt/pbxedge

.PHONY: run test lint bench deps apt keyperms sounds clean install-service

run: $(STAMP) $(SOUNDS) keyperms
	$(VENV)/bin/pbxedge -c configs/iax.conf

test: $(STAMP) $(SOUNDS) keyperms
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check pbxedge dialplan tests bench
	$(VENV)/bin/mypy pbxedge dialplan

# Speed figures, then the long property runs (100 000 random datagrams through the decoder).
bench: $(STAMP) $(SOUNDS) keyperms
	$(PY) -m bench
	$(PY) -m pytest -m slow -q

# git does not keep file modes, and private keys must be 0600 (as Asterisk demands).
keyperms:
	@chmod 600 keys/*.key 2>/dev/null || true

deps: $(STAMP)

sounds: $(SOUNDS)

$(SOUNDS): pbxedge/prompts.py | $(STAMP)
	$(PY) -m pbxedge.prompts
	touch $@

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml setup.py setup.cfg $(CORE_SOURCES) | apt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

# As root: the node in $(PREFIX) (its own venv, with the prompts), the sample configuration in
# /etc/pbxedge (files already there are kept), the system user pbxedge, and the systemd unit.
# Then: systemctl enable --now pbxedge. See "Operating pbxedge" in README.md.
install-service: | apt
	$(PYTHON) -m venv $(PREFIX)
	$(PREFIX)/bin/pip install -q --upgrade pip
	$(PREFIX)/bin/pip install -q .
	$(PREFIX)/bin/python -m pbxedge.prompts
	id -u pbxedge >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/pbxedge \
	  --shell /usr/sbin/nologin pbxedge
	install -d -m 0750 -g pbxedge /etc/pbxedge
	for f in iax.conf extensions.conf musiconhold.conf; do \
	  test -e /etc/pbxedge/$$f || install -m 0640 -g pbxedge configs/$$f /etc/pbxedge/$$f; \
	done
	sed 's#/opt/pbxedge#$(PREFIX)#g' configs/pbxedge.service > /etc/systemd/system/pbxedge.service
	systemd-analyze verify /etc/systemd/system/pbxedge.service
	systemctl daemon-reload 2>/dev/null || echo "systemd is not running here: reload it before starting pbxedge"

clean:
	rm -rf $(VENV) var pbxedge/sounds .pytest_cache .mypy_cache .ruff_cache build *.so pbxedge/iax2/*.so
