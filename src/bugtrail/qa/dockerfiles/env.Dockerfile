# A QA environment image: the runner image for the right Python plus what one repository's tests need.
# Generated context (bugtrail.qa.environments.build): repo/ is `git archive` of base_commit; bugtrail/ holds
# requirements.txt, install.sh, entry.sh, pretend-version and extra-ca.crt. Built with network (host) and no
# host mounts; the tests later run in it with `--network none` like in the plain runner image. Package data.
# Few instructions on purpose: each one is a container commit for the daemon.
ARG BASE_IMAGE=bugtrail-runner:latest
FROM ${BASE_IMAGE}
USER root
COPY bugtrail/ /opt/bugtrail/env/
COPY repo/ /workspace/repo/
# pip must trust the CA bundle the host trusts (a registry reached through a proxy), appended to Debian's.
# The archive has no .git: setuptools_scm / hatch-vcs read the version from SETUPTOOLS_SCM_PRETEND_VERSION.
RUN cp /opt/bugtrail/env/extra-ca.crt /usr/local/share/ca-certificates/bugtrail-env-ca.crt \
    && update-ca-certificates >/dev/null \
    && cd /workspace/repo \
    && SETUPTOOLS_SCM_PRETEND_VERSION="$(cat /opt/bugtrail/env/pretend-version)" sh /opt/bugtrail/env/install.sh
# At test time the edited work tree is mounted over /workspace/repo; entry.sh restores the files the install
# generated there (e.g. a _version.py) before running the test command.
ENTRYPOINT ["/opt/bugtrail/env/entry.sh"]
USER 1000:1000
