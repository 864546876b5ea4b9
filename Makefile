# Two entry points on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint clean

setup: $(STAMP)

# torch first, so that sentence-transformers finds it installed. Where pip sees only PyPI, its
# Linux torch wheel is the CUDA build (several GB); the CPU build comes from PyTorch's own index:
#   make setup TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Empty by default: the machines this project is built on take the CPU wheel from a local folder
# that pip is configured with, and cannot reach that index.
TORCH_INDEX_URL ?=
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The bot when TELEGRAM_BOT_TOKEN (environment or .env) holds a token, else the local console chat.
run: setup
	@if $(BIN)/python -c "import sys; from bot.config import BotSettings; sys.exit(BotSettings().token_problem() is not None)"; \
	then $(BIN)/python -m bot; \
	else echo "No TELEGRAM_BOT_TOKEN: starting the console chat (see README to connect Telegram)."; $(BIN)/python -m bot --console; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .index .pytest_cache
