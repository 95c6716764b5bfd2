#!/bin/sh
# Entry point of QA environment images. The project was installed editable at /workspace/repo when the image
# was built; at test time the (edited) work tree is mounted there, hiding files that install generated in the
# checkout (a setuptools_scm/hatch-vcs _version.py, *.egg-info, in-place extensions). Put them back, never over
# a file the work tree has, then run the test command. The root filesystem is read-only; only the tree is written.
generated=/opt/bugtrail/env/generated.tar
if [ -s "$generated" ] && [ -d /workspace/repo ] && [ -w /workspace/repo ]; then
    tar -C /workspace/repo --skip-old-files --no-same-owner -xf "$generated" 2>/dev/null || true
fi
# The project builds C/C++/Cython extensions: the restored ones were compiled from the base commit's sources.
# When the work tree's sources differ (the trace edited them), rebuild them in place, so the tests run the
# edited native code (build files in /tmp; a failed build is shown and the tests run anyway).
sources=/opt/bugtrail/env/native-sources.sha256
if [ -s "$sources" ] && [ -f /workspace/repo/setup.py ] && [ -w /workspace/repo ] \
    && ! (cd /workspace/repo && sha256sum --check --status "$sources" 2>/dev/null); then
    echo "== bugtrail: the extension sources were edited; rebuilding them in place" >&2
    (cd /workspace/repo \
        && SETUPTOOLS_SCM_PRETEND_VERSION="$(cat /opt/bugtrail/env/pretend-version 2>/dev/null || echo 0.0.0)" \
            python setup.py -q build_ext --inplace --force --build-temp /tmp/bugtrail-build-ext) >&2 \
        || echo "== bugtrail: rebuilding the extensions failed" >&2
fi
exec "$@"
