"""capstan: a WSGI API server and RPC worker pair in the OpenStack shape."""
from setuptools import find_packages, setup

# NOTE(capstan): the repository keeps api/, worker/ and common/ at the top
# level; installed, they are capstan.api, capstan.worker and capstan.common,
# so that capstan adds no generic top-level name to site-packages.
FRAMEWORK = ("api", "worker", "common")
PACKAGES = [f"capstan.{package}" for top in FRAMEWORK
            for package in find_packages(include=[top, f"{top}.*"])]
# The reference application, under its own name.
APPLICATION = find_packages(include=["capstan_volumes", "capstan_volumes.*"])

setup(
    name="capstan",
    version="0.1.0",
    description="WSGI API server plus RPC workers: Services, Managers, "
                "Drivers, periodic tasks and service records",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=PACKAGES + APPLICATION,
    package_dir={f"capstan.{top}": top for top in FRAMEWORK},
    package_data={"capstan.api": ["openapi_base.yaml"],
                  "capstan.common.db": ["migrations/*.py", "migrations/*.mako",
                                        "migrations/versions/*.py"],
                  "capstan_volumes": ["migrations/versions/*.py"]},
    data_files=[("etc/capstan", ["etc/capstan.conf.sample",
                                 "etc/api-paste.ini"])],
    install_requires=[
        "eventlet>=0.40.3,<0.42",
        "oslo.messaging>=18.0,<19",
        "oslo.config>=10.0,<11",
        "oslo.context>=6.0,<7",
        "oslo.log>=8.0,<9",
        "oslo.middleware>=8.0,<9",
        "oslo.policy>=6.0,<7",
        "oslo.utils>=10.0,<11",
        "stevedore>=5.0,<6",
        "SQLAlchemy>=2.0,<2.2",
        "alembic>=1.13,<2",
        "psycopg[binary]>=3.2,<3.4",
        "PasteDeploy>=3.1,<4",
        "Paste>=3.10,<4",
        "WebOb>=1.8,<2",
        "Routes>=2.5,<3",
        # The API's healthcheck opens one AMQP connection without retries.
        "amqp>=5.2,<6",
        # Read directly by api/policy.py to report a broken policy.yaml.
        "PyYAML>=6.0,<7",
        # Request schemas: validation and the OpenAPI document
        # (api/schema.py, api/openapi.py).
        "pydantic>=2.7,<3",
        # Singleton periodic tasks (common/coordination.py): tooz locks on
        # [coordination] backend_url; redis is tooz's client for redis://.
        # etcd3+http:// needs etcd3gw besides (pip install etcd3gw).
        "tooz>=6.0,<10",
        "redis>=4.0,<9",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            "pytest-timeout>=2.3,<3",
            "requests>=2.31,<3",
            # docs/openapi.yaml: validated by tests/unit/test_openapi.py and
            # fuzzed against a real api-server by tests/integration/
            # test_schemathesis.py.
            "openapi-spec-validator>=0.7.1,<0.8",
            "openapi-schema-validator>=0.6,<0.7",
            "schemathesis>=4.0,<5",
            # tests/unit/test_layers.py: the framework/application seam.
            "import-linter>=2.0,<3",
        ],
        # python -m bench (docs/benchmarks.md): profilers for --profile and
        # for chasing a missed target. The HTTP load comes from wrk, a
        # system package (apt-get install -y wrk).
        "bench": [
            "py-spy>=0.4,<0.5",
            "pyinstrument>=5.0,<6",
            # bench/plot_open_loop.py: benchmark 9's curves.
            "matplotlib>=3.8,<4",
        ],
    },
    entry_points={
        "console_scripts": [
            "api-server = capstan.api.cmd:main",
            "capstan-openapi = capstan.api.openapi:main",
            "worker = capstan.worker.cmd:main",
            "capstan-manage = capstan.common.manage:main",
        ],
        "capstan.volume.drivers": [
            "file = capstan_volumes.volume.drivers.file:FileDriver",
            "fake = capstan_volumes.volume.drivers.fake:FakeDriver",
        ],
        "capstan.applications": [
            "capstan_volumes = capstan_volumes.application:APPLICATION",
        ],
        "capstan.scheduler.filters": [
            "AggregateMetadataFilter = capstan.worker.scheduler.filters."
            "aggregate_metadata:AggregateMetadataFilter",
            "AvailabilityZoneFilter = capstan.worker.scheduler.filters."
            "availability_zone:AvailabilityZoneFilter",
            "CapacityFilter = "
            "capstan.worker.scheduler.filters.capacity:CapacityFilter",
            "DifferentHostFilter = "
            "capstan.worker.scheduler.filters.affinity:DifferentHostFilter",
            "SameHostFilter = "
            "capstan.worker.scheduler.filters.affinity:SameHostFilter",
        ],
        "capstan.scheduler.weighers": [
            "CapacityWeigher = "
            "capstan.worker.scheduler.weighers.capacity:CapacityWeigher",
        ],
        "oslo.config.opts": [
            "capstan = capstan.common.config:list_opts",
            "capstan_volumes = capstan_volumes.options:list_opts",
        ],
        "oslo.config.opts.defaults": [
            "capstan = capstan.common.config:update_sample_defaults",
        ],
        "oslo.policy.policies": [
            "capstan = capstan.api.policy:list_rules",
            "capstan_volumes = capstan_volumes.policies:list_rules",
        ],
    },
)
