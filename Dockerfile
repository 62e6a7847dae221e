# syntax=docker/dockerfile:1
#
# paperfeed in a container:
#   docker build -t paperfeed .
#   docker run -d --name paperfeed -e DISCORD_TOKEN=... -v paperfeed-data:/data paperfeed
#
# Two stages: the builder turns the project and its dependencies into wheels; the runtime
# stage installs those wheels offline into a clean slim image (no compiler, no source tree,
# no pip cache) and runs as an unprivileged user with the database on the /data volume.

FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .


FROM python:3.11-slim AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="paperfeed" \
      org.opencontainers.image.description="A self-hosted Discord bot that posts new and trending research papers (arXiv, Hugging Face Papers) to the channels that care about them." \
      org.opencontainers.image.url="https://github.com/paperfeed/paperfeed" \
      org.opencontainers.image.source="https://github.com/paperfeed/paperfeed" \
      org.opencontainers.image.documentation="https://github.com/paperfeed/paperfeed#readme" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAPERFEED_CONFIG=/etc/paperfeed/config.toml

# A fixed, unprivileged uid/gid (10001) that owns /data and nothing else.
RUN groupadd --system --gid 10001 paperfeed \
    && useradd --system --uid 10001 --gid paperfeed --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin paperfeed \
    && mkdir -p /data \
    && chown paperfeed:paperfeed /data \
    && chmod 0700 /data

# Install from the builder's wheels only (--no-index): what was built is what runs.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/paperfeed-*.whl

# The default configuration: database on /data, health endpoint on all interfaces.
# Mount your own file over /etc/paperfeed/config.toml (or set PAPERFEED_CONFIG) to change more.
COPY docker/config.toml docker/config-secret.toml /etc/paperfeed/

# A relative [database] path in a mounted configuration still lands on the volume.
WORKDIR /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080

# `paperfeed run` finishes in-flight sends and closes the database on SIGTERM.
STOPSIGNAL SIGTERM
# slim has no curl: ask the endpoint with Python's urllib, bypassing any HTTP(S)_PROXY
# (a non-2xx answer or no answer raises, so the exit status is 1: unhealthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:8080/healthz', timeout=4)"]

ENTRYPOINT ["paperfeed"]
CMD ["run"]
