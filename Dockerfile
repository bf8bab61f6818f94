# One image for the API, the worker and the migration job (docker-compose.yml picks the command).
FROM python:3.11-slim AS app

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --system --uid 10001 keeptime

COPY pyproject.toml README.md ./
COPY domain ./domain
COPY keeptime ./keeptime
COPY services ./services
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY starter ./starter
COPY db ./db
COPY worker.py alembic.ini ./
RUN pip install .

USER keeptime
EXPOSE 8080
CMD ["python", "worker.py"]
