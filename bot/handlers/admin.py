"""Handlers for the admin features (registered by bot.app.build_application)."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add this module's handlers to the application."""
