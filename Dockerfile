# cora-bot: a small image that runs `cora-bot run --webhook` as an unprivileged user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/cora --create-home cora \
    && chmod 0700 /var/lib/cora
COPY --from=build /install /usr/local
USER cora
WORKDIR /var/lib/cora
ENV CORA_DATA_DIR=/var/lib/cora \
    LOG_FORMAT=json \
    WEBHOOK_LISTEN=0.0.0.0:8080 \
    PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"
# SIGTERM lets the bot finish the deliveries in flight before it exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["cora-bot"]
CMD ["run", "--webhook"]
