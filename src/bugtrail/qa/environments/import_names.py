"""Tables for inferred test needs: import name -> distribution where they differ, and the fixtures and markers
only a well-known pytest plugin provides. Each entry is (distribution, module to check in the image)."""

from __future__ import annotations

# Import names whose distribution has another name (anything else: the import name itself, which pip
# normalises: `pytest_mock` finds pytest-mock).
MODULE_DISTRIBUTIONS: dict[str, str] = {
    "yaml": "PyYAML",
    "dateutil": "python-dateutil",
    "attr": "attrs",
    "PIL": "Pillow",
    "bs4": "beautifulsoup4",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "OpenSSL": "pyOpenSSL",
    "jwt": "PyJWT",
    "magic": "python-magic",
    "dotenv": "python-dotenv",
    "serial": "pyserial",
    "usb": "pyusb",
    "zmq": "pyzmq",
    "git": "GitPython",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "fitz": "PyMuPDF",
    "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary",
    "pkg_resources": "setuptools",
    "jose": "python-jose",
    "multipart": "python-multipart",
    "socks": "PySocks",
    "nacl": "PyNaCl",
    "gi": "PyGObject",
    "slugify": "python-slugify",
    "dns": "dnspython",
    "ldap": "python-ldap",
    "memcache": "python-memcached",
    "snappy": "python-snappy",
    "rapidjson": "python-rapidjson",
    "kafka": "kafka-python",
    "telegram": "python-telegram-bot",
    "mpl_toolkits": "matplotlib",
    "pydispatch": "PyDispatcher",
    "xdist": "pytest-xdist",
    "pytestqt": "pytest-qt",
    "google.protobuf": "protobuf",
    "win32api": "pywin32",
    "win32con": "pywin32",
    "Xlib": "python-xlib",
    "websocket": "websocket-client",
    "github": "PyGithub",
}

# Top-level names that are namespace packages of many distributions: the first two levels name it.
NAMESPACE_TOPS = frozenset({"google", "zope", "ruamel", "backports", "jaraco", "azure", "sphinxcontrib"})

# Names never inferred: pytest itself (always in the image) and its internals, and CPython's own regression
# test package `test` (sys.stdlib_module_names leaves it out; no distribution provides it).
ALWAYS_PRESENT = frozenset({"pytest", "_pytest", "py", "__future__", "__main__", "conftest", "test"})

# Fixtures only a well-known plugin provides -> (distribution, module the plugin registers).
FIXTURE_PLUGINS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        ("mocker", "class_mocker", "module_mocker", "package_mocker", "session_mocker"),
        ("pytest-mock", "pytest_mock"),
    ),
    "benchmark": ("pytest-benchmark", "pytest_benchmark"),
    "freezer": ("pytest-freezer", "pytest_freezer"),
    "requests_mock": ("requests-mock", "requests_mock"),
    "httpx_mock": ("pytest-httpx", "pytest_httpx"),
    "respx_mock": ("respx", "respx"),
    "snapshot": ("syrupy", "syrupy"),
    "aioresponses": ("pytest-aioresponses", "pytest_aioresponses"),
    "event_loop": ("pytest-asyncio", "pytest_asyncio"),
    "event_loop_policy": ("pytest-asyncio", "pytest_asyncio"),
    "unused_tcp_port": ("pytest-asyncio", "pytest_asyncio"),
    "aiohttp_client": ("pytest-aiohttp", "pytest_aiohttp"),
    "aiohttp_server": ("pytest-aiohttp", "pytest_aiohttp"),
    "time_machine": ("time-machine", "time_machine"),
    "httpserver": ("pytest-httpserver", "pytest_httpserver"),
    "fs": ("pyfakefs", "pyfakefs"),
    "datadir": ("pytest-datadir", "pytest_datadir"),
    "shared_datadir": ("pytest-datadir", "pytest_datadir"),
    "qtbot": ("pytest-qt", "pytestqt"),
    "xprocess": ("pytest-xprocess", "xprocess"),
    "subtests": ("pytest-subtests", "pytest_subtests"),
    "httpbin": ("pytest-httpbin", "pytest_httpbin"),
    "vcr": ("pytest-recording", "pytest_recording"),
    "vcr_cassette": ("pytest-recording", "pytest_recording"),
    "faker": ("Faker", "faker"),
    "anyio_backend": ("anyio", "anyio"),
    "nursery": ("pytest-trio", "pytest_trio"),
    "rf": ("pytest-django", "pytest_django"),
    "admin_client": ("pytest-django", "pytest_django"),
    "django_user_model": ("pytest-django", "pytest_django"),
    "django_assert_num_queries": ("pytest-django", "pytest_django"),
    "django_capture_on_commit_callbacks": ("pytest-django", "pytest_django"),
    "live_server": ("pytest-django", "pytest_django"),
    "lazy_fixture": ("pytest-lazy-fixture", "pytest_lazyfixture"),
    "celery_app": ("celery", "celery"),
    "celery_worker": ("celery", "celery"),
    "image_regression": ("pytest-regressions", "pytest_regressions"),
    "data_regression": ("pytest-regressions", "pytest_regressions"),
    "file_regression": ("pytest-regressions", "pytest_regressions"),
    "num_regression": ("pytest-regressions", "pytest_regressions"),
    "mock_env": ("pytest-mock-resources", "pytest_mock_resources"),
}

# Markers only a well-known plugin defines (pytest's own: parametrize, skip, skipif, xfail, usefixtures,
# filterwarnings).
MARKER_PLUGINS: dict[str, tuple[str, str]] = {
    "asyncio": ("pytest-asyncio", "pytest_asyncio"),
    "django_db": ("pytest-django", "pytest_django"),
    "urls": ("pytest-django", "pytest_django"),
    "benchmark": ("pytest-benchmark", "pytest_benchmark"),
    "timeout": ("pytest-timeout", "pytest_timeout"),
    "flaky": ("pytest-rerunfailures", "pytest_rerunfailures"),
    "freeze_time": ("pytest-freezer", "pytest_freezer"),
    "trio": ("pytest-trio", "pytest_trio"),
    "anyio": ("anyio", "anyio"),
    "vcr": ("pytest-recording", "pytest_recording"),
    "default_cassette": ("pytest-recording", "pytest_recording"),
    "block_network": ("pytest-recording", "pytest_recording"),
    "order": ("pytest-order", "pytest_order"),
    "dependency": ("pytest-dependency", "pytest_dependency"),
    "httpx_mock": ("pytest-httpx", "pytest_httpx"),
    "respx": ("respx", "respx"),
    "xdist_group": ("pytest-xdist", "xdist"),
    "datafiles": ("pytest-datafiles", "pytest_datafiles"),
    "repeat": ("pytest-repeat", "pytest_repeat"),
    "mpl_image_compare": ("pytest-mpl", "pytest_mpl"),
    "enable_socket": ("pytest-socket", "pytest_socket"),
    "disable_socket": ("pytest-socket", "pytest_socket"),
    "allow_hosts": ("pytest-socket", "pytest_socket"),
    "forked": ("pytest-forked", "pytest_forked"),
    "randomly_dont_reorganize": ("pytest-randomly", "pytest_randomly"),
    "httpserver_listen_address": ("pytest-httpserver", "pytest_httpserver"),
}

# `pytest_plugins` entries that are pytest's own.
BUILTIN_PLUGINS = frozenset({"pytester", "doctest", "faulthandler", "cacheprovider", "lsof", "monkeypatch"})


def distribution_for(module: str) -> tuple[str, str]:
    """(distribution, module to check) for a dotted import name."""
    parts = module.split(".")
    top = parts[0]
    if top in NAMESPACE_TOPS and len(parts) > 1:
        dotted = ".".join(parts[:2])
        if dotted in MODULE_DISTRIBUTIONS:
            return MODULE_DISTRIBUTIONS[dotted], dotted
        if top == "google" and parts[1] == "cloud" and len(parts) > 2:
            return f"google-cloud-{parts[2]}".replace("_", "-"), ".".join(parts[:3])
        return dotted, dotted
    return MODULE_DISTRIBUTIONS.get(top, top.replace("_", "-")), top
