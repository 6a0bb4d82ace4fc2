"""The web console: a Telegram Mini App served by the bot itself, under /app/.

Trainees see their own progress and change their settings; admins read the library.
initdata.py checks Telegram's sign-in, data.py is the one door to the rest of tweetdrip,
server.py serves the page, the JSON API and the views, links.py makes links and sets the
menu button.
"""
