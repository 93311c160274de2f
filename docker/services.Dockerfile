# The fedops services image: registry + monitoring API (`fedops up`) and the FL server
# runtime the provisioners start. Dependencies are baked in: nothing is installed at
# run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLWR_TELEMETRY_ENABLED=0 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/fedops
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --no-cache-dir -r requirements/lock.txt
COPY sdk sdk
COPY services services
COPY migrations migrations
COPY alembic.ini alembic.ini
RUN pip install --no-cache-dir --no-deps ./sdk ./services

RUN useradd --uid 10001 --create-home fedops && mkdir -p /var/lib/fedops && chown fedops /var/lib/fedops
USER 10001
ENV FEDOPS_DATA_DIR=/var/lib/fedops
EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["fedops", "up", "--host", "0.0.0.0", "--port", "8080"]
