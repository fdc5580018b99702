# PharmaCRM: `make demo` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCALE ?= small
PORT ?= 8000
export PHARMACRM_VAR_DIR ?= $(CURDIR)/var

.PHONY: demo install serve test lint pytest test-pg test-browser chromium gettext fmt messages messages-check clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || PY=python3; \
	  test -x $(BIN)/python || $${PY:-python3} -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pharmacrm migrate --no-input -v 0
	$(BIN)/pharmacrm demo --scale $(SCALE)
	@echo
	@echo "PharmaCRM demo: http://127.0.0.1:$(PORT)/   (Ctrl-C stops it)"
	@echo "Logins (password pharmacrm-demo): admin, director, manager1, rep1, rep2, service1, compliance1, ka1"
	DEBUG=1 LOG_FORMAT=plain $(BIN)/pharmacrm runserver 127.0.0.1:$(PORT)

serve: $(STAMP)
	DEBUG=1 LOG_FORMAT=plain $(BIN)/pharmacrm runserver 127.0.0.1:$(PORT)

lint: $(STAMP) messages-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pharmacrm
	$(BIN)/djlint pharmacrm --lint --quiet
	$(BIN)/lint-imports --no-cache
	$(BIN)/pharmacrm makemigrations --check --dry-run
	@# Production static files (hashed names) must build: a missing referenced file fails here.
	tmp=$$(mktemp -d) && PHARMACRM_VAR_DIR=$$tmp MANIFEST_STATIC=1 $(BIN)/pharmacrm collectstatic --noinput -v 0 && rm -rf $$tmp

# pytest exits 5 when it collected nothing: that is a failure here, never a quiet green.
define run_pytest
$(BIN)/pytest $(1) || { rc=$$?; \
  if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests (make $@)" >&2; fi; exit $$rc; }
endef

# The unit suite on SQLite (the browser journey has its own target: it needs chromium).
pytest: $(STAMP)
	$(call run_pytest,-m "not browser" -n 2 --create-db)

test: lint pytest

# The same suite on PostgreSQL (127.0.0.1:5432, trust auth). pytest-django creates and drops
# test_<name> (test_<name>_gw0, _gw1 under xdist); <name> itself need not exist.
PG_URL ?= postgres://postgres@127.0.0.1:5432/pharmacrm
test-pg: $(STAMP)
	DATABASE_URL=$(PG_URL) $(call run_pytest,-m "not browser" -n 2 --create-db)

# Debian's chromium for Playwright (never `playwright install`: it downloads its own browser).
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  echo "Installing Debian's chromium and CJK fonts for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null; }
	@test -x $(CHROMIUM) || { echo "ERROR: $(CHROMIUM) is still missing" >&2; exit 1; }

# The browser journey on SQLite, in its own var dir: its transactional tests flush their test
# database, which must not be the one the unit suite reuses (--reuse-db).
test-browser: $(STAMP) chromium
	PHARMACRM_VAR_DIR=$(PHARMACRM_VAR_DIR)/browser PHARMACRM_CHROMIUM=$(CHROMIUM) \
	  $(call run_pytest,-m browser -p no:xdist --create-db)

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Through pharmacrm, not django-admin: the project's makemessages also reads the `_l` alias.
messages: $(STAMP) gettext
	cd pharmacrm && ../$(BIN)/pharmacrm makemessages -l en --no-obsolete && ../$(BIN)/pharmacrm compilemessages -l en

# Every string marked for translation has its English. Extracts from a copy of the package (imported
# from that copy, so nothing here is rewritten) and fails on any untranslated or fuzzy entry.
messages-check: $(STAMP) gettext
	@tmp=$$(mktemp -d) && cp -r pharmacrm $$tmp/ && \
	  (cd $$tmp/pharmacrm && PYTHONPATH=$$tmp $(CURDIR)/$(BIN)/pharmacrm makemessages -l en -v 0) && \
	  bad=$$(for f in $$(find $$tmp/pharmacrm -name django.po -path '*/en/*'); do \
	    msgattrib --no-obsolete --untranslated $$f | msgattrib --no-obsolete --no-location -o - - | grep -v '^"' ; \
	    msgattrib --no-obsolete --only-fuzzy --no-location $$f | grep -v '^"'; done | grep '^msgid "..*"'); \
	  rm -rf $$tmp; \
	  if [ -n "$$bad" ]; then echo "ERROR: strings without English (make messages, then translate them):" >&2; \
	    echo "$$bad" >&2; exit 1; fi

# gettext's xgettext and msgattrib, which makemessages and messages-check run.
gettext:
	@command -v xgettext >/dev/null && command -v msgattrib >/dev/null || { \
	  echo "Installing Debian's gettext for makemessages"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends gettext >/dev/null; }

clean:
	rm -rf $(VENV) var/*.sqlite3* var/staticfiles
