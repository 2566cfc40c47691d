# The edge image: parser, embedder and coordinator (one image, the command picks the
# process: docker-compose.edge.yml). It installs the `edge` extra only; the gateway's
# package is copied because the wheel lists it, but none of its dependencies is installed.
#
# torch comes from PyPI, whose Linux wheel is the CUDA build (it bundles the CUDA runtime
# and also runs on CPU): what an edge with an NVIDIA GPU wants. For a smaller CPU-only
# image, add the CPU wheel index; the versions pinned in constraints.txt (`make lock`:
# every package, transitive ones too) still apply:
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu .
FROM python:3.11-slim

ARG TORCH_INDEX_URL=""
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# git: the parser clones repositories. The processes run as an unprivileged user.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home alexandria \
    && mkdir /data && chown alexandria: /data

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY alexandria alexandria
COPY gateway gateway
COPY services services
COPY gen gen
RUN pip install --no-cache-dir ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} \
    -c constraints.txt '.[edge]'

ENV ALEXANDRIA_DATA_DIR=/data ALEXANDRIA_MODE=EDGE
USER alexandria
VOLUME /data
ENTRYPOINT ["alexandria"]
CMD ["--help"]
