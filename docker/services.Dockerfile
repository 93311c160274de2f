# The fedops services image (ghcr.io/fedops/fedops-services), built from the repository root:
#   docker build -f docker/services.Dockerfile -t ghcr.io/fedops/fedops-services:0.1.0 .
# One image for every server-side role:
#   fedops-services up --host 0.0.0.0 --port 8080   registry and/or monitoring API (FEDOPS_COMPONENTS)
#   fedops-services migrate                         Alembic migrations to head (the chart's Job)
#   fedops-server                                   the per-task FL server the provisioners start
# Only the runtime dependencies of sdk/ and services/ are installed, at the versions of
# requirements/lock.txt (a constraints file, so development tools and the edge-client
# extras such as torch stay out). Nothing is installed at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLWR_TELEMETRY_ENABLED=0 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/fedops
COPY requirements/lock.txt requirements/lock.txt
COPY sdk sdk
COPY services services
COPY migrations migrations
# The services wheel bundles ../migrations (a hatch force-include), which pip's in-tree
# build finds next to services/. The sources are not needed once installed.
RUN pip install --constraint requirements/lock.txt ./sdk ./services \
    && rm -rf sdk services migrations

# HOME is /tmp: with a read-only root filesystem only /tmp and the data directory need to
# be writable volumes (the Helm chart mounts emptyDirs or a PVC there).
RUN groupadd --gid 10001 fedops \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin fedops \
    && mkdir -p /var/lib/fedops \
    && chown 10001:10001 /var/lib/fedops
USER 10001:10001
ENV HOME=/tmp \
    FEDOPS_DATA_DIR=/var/lib/fedops
EXPOSE 8080
HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3)"]
CMD ["fedops-services", "up", "--host", "0.0.0.0", "--port", "8080"]
