# One image for every judge-service process: the API (default command), the RQ
# workers, the one-shot migration and the SIMULATED judge provider. The command
# picks the role, e.g. `docker run judge-service:local worker --burst`.
FROM python:3.11-slim

# No .pyc files written at run time (site-packages is read-only for the app
# user anyway) and logs leave the process unbuffered, so `docker logs` is live.
# A container is reached over a network, through a published port or a proxy:
# every request for a project's data needs an API key (JUDGE_AUTH=required).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    JUDGE_AUTH=required

# The app runs as an unprivileged user with a fixed uid/gid, so volume
# permissions are predictable across rebuilds.
RUN groupadd --system --gid 10001 judge \
    && useradd --system --uid 10001 --gid judge --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin judge

# Install from pyproject.toml. The wheel carries the Alembic scripts
# (migrations/ is force-included as judge_service/_migrations), so the source
# tree is only needed at build time.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY judge_service/ judge_service/
COPY migrations/ migrations/
RUN pip install --no-cache-dir . \
    && rm -rf /src

# A writable working directory for the user: the embedded SQLite default
# (sqlite:///judge_service.db) is created relative to it.
WORKDIR /app
RUN chown judge:judge /app
USER judge

EXPOSE 8000

# Liveness of the default `serve` command. slim has no curl; urlopen raises on
# connection errors and non-2xx replies, which fails the check. Compose
# overrides this per service (readiness for the API, port 9000 for the
# simulator, none for workers and the migration).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["judge-service"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
