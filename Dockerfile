# The edge image: parser, embedder and coordinator (one image, the command picks the process).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY alexandria alexandria
COPY gateway gateway
COPY services services
COPY gen gen
RUN pip install --no-cache-dir '.[edge,gateway]'
ENV ALEXANDRIA_DATA_DIR=/data MODE=EDGE
VOLUME /data
ENTRYPOINT ["alexandria"]
