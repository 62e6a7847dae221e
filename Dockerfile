# paperfeed in a container:
#   docker build -t paperfeed .
#   docker run -d --name paperfeed -e DISCORD_TOKEN=... -v paperfeed-data:/data paperfeed
#
# Two stages: the builder turns the project and its dependencies into wheels; the runtime
# stage installs those wheels offline into a clean slim image (no compiler, no source tree,
# no pip cache) and runs as an unprivileged user with the database on the /data volume.
# No `# syntax=` line: the Dockerfile frontend built into the engine (Docker 20.10 and later)
# reads everything here, so a build needs no image beyond the base.

# The base, pinned to one Python release on one Debian release, for both stages. A digest
# (`python:3.11.13-slim-bookworm@sha256:...`) would pin it further; it is left out because no
# machine this project is built on can reach Docker Hub to read it. To move on, change the tag
# here (and the changelog); CI tags its stand-in base (tests/container/) with the same name.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# Optional extras to include, comma-separated: `--build-arg EXTRAS=semantic` adds like:, about:
# and /related (onnxruntime, numpy and the model; see the README for the size). Empty: none.
ARG EXTRAS=""

FROM ${PYTHON_IMAGE} AS builder

ARG EXTRAS
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# Dependencies first, read from pyproject.toml alone and pinned by constraints.txt: a change to
# the code reuses this layer instead of fetching and building every wheel again. The extras
# named in EXTRAS add their own requirements (an unknown name stops the build).
COPY pyproject.toml constraints.txt ./
RUN EXTRAS="$EXTRAS" python -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb')); \
extras = [e.strip() for e in os.environ['EXTRAS'].split(',') if e.strip()]; \
optional = p['project']['optional-dependencies']; \
print(*p['project']['dependencies'], *(r for e in extras for r in optional[e]), sep='\n', file=open('requirements.txt', 'w')); \
print(*p['build-system']['requires'], sep='\n', file=open('build-requirements.txt', 'w'))" \
    && pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt -r requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r build-requirements.txt

# The compiled extensions' symbol tables serve only debuggers: stripped, the image is about
# 15 MB smaller (tantivy and asyncpg above all). binutils stays in this stage only, and any
# version of its `strip` does (so it is not pinned: a pin breaks at Debian's next point release).
COPY docker/strip_wheels.py ./
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends binutils > /dev/null \
    && python strip_wheels.py /wheels

# Then the package alone: no dependency and no build tool left to download.
COPY README.md LICENSE ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .


FROM ${PYTHON_IMAGE} AS runtime

ARG PYTHON_IMAGE
ARG EXTRAS

# The version lives in bot/__init__.py only (`paperfeed --version` in the image prints it);
# a release build passes it, the commit and the date as labels (see the README).
ARG VERSION=unknown
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
      org.opencontainers.image.base.name="docker.io/library/${PYTHON_IMAGE}"

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

# Install from the builder's wheels only (--no-index): what was built is what runs, with the
# extras asked for (`paperfeed-X.whl[semantic]`).
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels \
        "$(echo /wheels/paperfeed-*.whl)${EXTRAS:+[$EXTRAS]}"

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
# `paperfeed healthcheck` asks /healthz on the host and port of the configuration in use
# ($PAPERFEED_CONFIG), so changing [health] port needs no change here; exit 1 is unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["paperfeed", "healthcheck"]

ENTRYPOINT ["paperfeed"]
CMD ["run"]
