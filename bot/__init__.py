"""The Telegram application: settings, app builder, handlers, jobs, rendering and CLI."""
