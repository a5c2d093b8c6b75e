# Set-up and everyday commands.  A fresh machine needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of torch installs from this machine's local disk; an unpinned `torch`
# would pull a multi-GB CUDA build.  Override on a GPU machine: make TORCH_SPEC=torch
TORCH_SPEC ?= torch==2.13.0

.PHONY: install system-packages docs demo test bench bench-lm bench-tasks bench-forecast clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

install: $(PY)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,bench,serve,docs,browser]"
	$(PY) -m seqlab.nn.build  # the fused C++ recurrence (~20 s; without a compiler the Python driver is used)

# The main job: train a character LSTM on the bundled Shakespeare (~2 min), sample, plot.
demo: install
	$(VENV)/bin/seqlab demo

# Debian packages: chromium, which the browser tests drive (Playwright's own download needs a network these
# machines lack), and libjs-katex, which renders the site's formulas offline.  Installed with apt where this
# user may; without them the browser tests skip and say why, and the formulas show as TeX.
system-packages:
	@missing=""; \
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing="chromium"; \
	[ -d /usr/share/javascript/katex ] || missing="$$missing libjs-katex"; \
	[ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || \
	  echo "make system-packages: could not install$$missing; the browser tests will skip"

# The documentation site, strictly (a broken link or API reference fails), into build/site.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

test: install system-packages docs
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/recurrent_speed.py

# Real-data benchmarks (need ../shared/data; about 30 minutes each on a 2-core CPU).
bench-lm: install
	$(PY) benchmarks/lm_shakespeare.py
	$(PY) benchmarks/lm_ptb.py

# Classification and tagging benchmarks (need ../shared/data; about 2 hours in all on a 2-core CPU).
bench-tasks: install
	$(PY) benchmarks/sst2.py
	$(PY) benchmarks/conll_ner.py
	$(PY) benchmarks/cws_pku.py
	$(PY) benchmarks/crf_speed.py

# ETTh1 forecasting, every model at four horizons (needs ../shared/data; about an hour on a 2-core CPU).
bench-forecast: install
	$(PY) benchmarks/ett.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
