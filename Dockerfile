# The production image: the whole product in one process on the embedded default.
# Mount a volume on /app/var to keep the SQLite store, the queue and the signing key.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /app
# The CPU build of PyTorch, asked for by exact version before anything can pull another.
RUN pip install --no-cache-dir "torch==2.13.0"
COPY pyproject.toml README.md ./
COPY inbox ./inbox
COPY connectors ./connectors
COPY classifiers ./classifiers
RUN pip install --no-cache-dir .
COPY config.toml ./

RUN useradd --system --home /app inbox && mkdir -p /app/var && chown inbox /app/var
USER inbox
EXPOSE 8080
VOLUME ["/app/var"]
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["inbox", "--config", "/app/config.toml", "serve", "--host", "0.0.0.0"]
