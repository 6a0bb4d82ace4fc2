# syntax=docker/dockerfile:1
# tweetdrip: the Telegram bot in a small image. Build: docker build -t tweetdrip .
# Run (SQLite on a volume, long polling):
#   docker run -d --name tweetdrip -e TELEGRAM_BOT_TOKEN=... -v tweetdrip-data:/data tweetdrip
# See docs/production.md for webhook mode, PostgreSQL (compose.yaml), backups and upgrades.

# An exact release rather than a moving tag: the same Python and Debian on every build. A
# digest (@sha256:...) would pin the very bytes too; none is recorded because the registry
# could not be reached when this tag was chosen. Add it on the next update, from
# `docker buildx imagetools inspect python:3.11.17-slim-bookworm`.
ARG PYTHON_IMAGE=python:3.11.17-slim-bookworm

# -- build: a virtualenv with the locked dependencies and tweetdrip itself ----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from the lock file alone: this layer is reused until the lock changes.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY content ./content
COPY storage ./storage
RUN pip install --no-deps . \
    && pip check \
    && tweetdrip --help > /dev/null

# -- runtime: the virtualenv only, run as an unprivileged user -----------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    DATABASE_URL=sqlite:////data/tweetdrip.db \
    WEBHOOK_LISTEN=0.0.0.0 \
    WEBHOOK_PORT=8443
RUN groupadd --system --gid 10001 tweetdrip \
    && useradd --system --uid 10001 --gid tweetdrip --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin tweetdrip \
    && mkdir -p /data \
    && chown tweetdrip:tweetdrip /data
COPY --from=build /opt/venv /opt/venv
# Numeric, so a runtime (Kubernetes runAsNonRoot, for one) can tell it is not root.
USER 10001:10001
WORKDIR /data
# The SQLite database (and its -wal/-shm files) live here; back it up with
# `docker exec tweetdrip tweetdrip db backup /data/backups/tweetdrip-$(date +%F).db`.
VOLUME ["/data"]
# 8443: webhook mode only (`run --webhook`); 8080: the web console (WEB_PORT, docs/console.md).
EXPOSE 8443 8080
# Webhook mode: asks the process's own /healthz; polling mode: checks database and Telegram.
HEALTHCHECK --interval=60s --timeout=20s --start-period=30s --retries=3 \
    CMD ["tweetdrip", "health"]
# `tweetdrip run` migrates the database before it starts.
ENTRYPOINT ["tweetdrip"]
CMD ["run"]
