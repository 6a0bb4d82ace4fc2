"""The Telegram application: settings, app builder, handlers, jobs, rendering and CLI."""

import os

# Opt in to python-telegram-bot's timedelta `retry_after` (the future default) before it loads.
os.environ.setdefault("PTB_TIMEDELTA", "1")
