# One image for the API, the worker and the jobs (docker-compose.yml and deploy/kubernetes pick the command).
# Exact versions from uv.lock (the same as `make run` and the tests), installed by a pinned uv.
FROM python:3.11-slim AS app

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 UV_NO_CACHE=1
WORKDIR /app
RUN useradd --system --uid 10001 keeptime && pip install "uv==0.13.9"

COPY pyproject.toml uv.lock README.md ./
RUN uv export --frozen --no-dev --no-emit-project --format requirements-txt -o /tmp/requirements.txt \
    && uv pip install --system -r /tmp/requirements.txt
COPY domain ./domain
COPY keeptime ./keeptime
COPY services ./services
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY starter ./starter
COPY db ./db
COPY worker.py alembic.ini ./
RUN uv pip install --system --no-deps .

USER keeptime
EXPOSE 8080 9464
CMD ["python", "worker.py"]
