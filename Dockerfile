# syntax=docker/dockerfile:1
# image-gateway container image.
#   docker build -t ghcr.io/image-gateway/image-gateway:0.1.0 .
# Stage 1 builds wheels (the project and all its dependencies); stage 2 installs
# them offline into a clean slim image that runs as a fixed non-root UID.
# No secrets are baked in: keys come from the environment at run time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY providers ./providers
RUN python -m pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="image-gateway" \
      org.opencontainers.image.description="OpenAI-compatible image gateway for Alibaba DashScope" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Fixed UID/GID 10001: the Helm chart's runAsUser/runAsGroup use the same numbers.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin app
# The wheels are bind-mounted from the build stage (BuildKit), so they never
# become an image layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels image-gateway \
 && command -v image-gateway
# The default configuration; the Helm chart mounts its own ConfigMap at the same path.
COPY config/gateway.yaml /etc/image-gateway/gateway.yaml
ENV GATEWAY_CONFIG=/etc/image-gateway/gateway.yaml
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["image-gateway"]
CMD ["serve", "--host", "0.0.0.0"]
