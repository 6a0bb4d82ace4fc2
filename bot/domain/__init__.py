"""Domain rules: plain functions with no Telegram import; time is always passed in."""
