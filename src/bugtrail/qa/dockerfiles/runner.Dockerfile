# The QA runner image: Debian (bookworm by default; bullseye/trixie for other Pythons) + Python 3 + git, a venv
# at /opt/bugtrail/venv with pytest from PyPI (Debian's pytest is too old for many repositories), and an
# unprivileged user. Built by `bugtrail runner build-image [--suite S]`, which passes BASE_IMAGE (a
# `docker import`ed debootstrap rootfs, because no container registry is reachable) and puts extra-ca.crt
# (a CA bundle pip and apt must trust; may be empty) in the context. Package data of bugtrail.qa.dockerfiles.
ARG BASE_IMAGE=bugtrail-debian-base:bookworm
FROM ${BASE_IMAGE}

ARG DEBIAN_FRONTEND=noninteractive
# A proxy's CA, for builds whose package mirror is reached over HTTPS. Appended, not replacing Debian's bundle.
COPY extra-ca.crt /usr/local/share/ca-certificates/bugtrail-extra-ca.crt

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates python3 python3-venv python-is-python3 git patch \
    && update-ca-certificates \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin

# The venv comes first on PATH, so `python -m pytest` is PyPI's current pytest. It sees Debian's packages too
# (--system-site-packages), so images derived from this one with `apt-get install python3-...` keep working;
# what pip installs in the venv comes first. pip trusts the image's bundle (Debian's plus extra-ca.crt),
# which environment images built on this one rely on too.
ENV VIRTUAL_ENV=/opt/bugtrail/venv \
    PATH=/opt/bugtrail/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DEFAULT_TIMEOUT=120
RUN python3 -m venv --system-site-packages /opt/bugtrail/venv \
    && pip install --upgrade pip \
    && pip install pytest \
    && python -c "import platform; print(platform.python_version())" > /opt/bugtrail/python-version

# uid 1000: the container never runs test code as root; the worker hands the work tree to this uid.
RUN groupadd --gid 1000 runner && useradd --uid 1000 --gid 1000 --home-dir /home/runner --create-home runner

ENV HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GIT_CONFIG_COUNT=1 \
    GIT_CONFIG_KEY_0=safe.directory \
    GIT_CONFIG_VALUE_0=*
USER 1000:1000
WORKDIR /workspace
CMD ["/bin/bash"]
LABEL org.opencontainers.image.title="bugtrail-runner" \
      org.opencontainers.image.description="Runs a trace's tests for bugtrail QA"
