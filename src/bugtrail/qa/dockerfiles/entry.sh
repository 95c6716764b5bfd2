#!/bin/sh
# Entry point of QA environment images. The project was installed editable at /workspace/repo when the image
# was built; at test time the (edited) work tree is mounted there, hiding files that install generated in the
# checkout (a setuptools_scm/hatch-vcs _version.py, *.egg-info, in-place extensions). Put them back, never over
# a file the work tree has, then run the test command. The root filesystem is read-only; only the tree is written.
generated=/opt/bugtrail/env/generated.tar
if [ -s "$generated" ] && [ -d /workspace/repo ] && [ -w /workspace/repo ]; then
    tar -C /workspace/repo --skip-old-files --no-same-owner -xf "$generated" 2>/dev/null || true
fi
exec "$@"
