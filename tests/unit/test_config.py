"""Options, the config sample, loading and the topic -> manager mapping."""
import os
import pathlib
import stat
import subprocess
import sys

import pytest
from oslo_config import cfg

from capstan.common import config

REPO = pathlib.Path(__file__).resolve().parents[2]


def write_conf(tmp_path, text: str) -> str:
    path = tmp_path / "capstan.conf"
    path.write_text(text)
    return str(path)


def loaded(tmp_path, text: str = "") -> cfg.ConfigOpts:
    conf = config.make_conf()
    config.load(conf, ["--config-file", write_conf(tmp_path, text)])
    return conf


def test_sample_config_is_up_to_date(tmp_path):
    output = tmp_path / "capstan.conf.sample"

    subprocess.run(
        [sys.executable, "-m", "oslo_config.generator", "--config-file",
         "etc/capstan-config-generator.conf", "--output-file", str(output)],
        cwd=REPO, check=True, capture_output=True, timeout=60)

    expected = (REPO / "etc" / "capstan.conf.sample").read_text()
    assert output.read_text() == expected, (
        "etc/capstan.conf.sample is stale; regenerate it with "
        "oslo-config-generator --config-file "
        "etc/capstan-config-generator.conf")


def test_make_conf_is_private_and_has_the_documented_defaults(tmp_path):
    conf = loaded(tmp_path)

    assert conf is not cfg.CONF
    assert (conf.report_interval, conf.service_down_time) == (10, 60)
    assert (conf.api.bind_host, conf.api.bind_port) == ("127.0.0.1", 8780)
    assert conf.transport_url == "fake://"
    assert conf.database.connection == (
        f"sqlite:///{conf.state_path}/capstan.sqlite")
    # oslo.messaging reads these from any conf but registers them only on
    # cfg.CONF (DESIGN.md section 6).
    assert conf.oslo_messaging_metrics.metrics_enabled is False
    assert conf.oslo_messaging_tracing is not None


def test_make_conf_twice_gives_independent_objects():
    first, second = config.make_conf(), config.make_conf()
    first([], default_config_files=[])
    second([], default_config_files=[])

    first.set_override("report_interval", 3)

    assert second.report_interval == 10


def test_load_reads_values_from_the_config_file(tmp_path):
    conf = loaded(tmp_path, f"[DEFAULT]\nstate_path = {tmp_path}\n"
                            "report_interval = 5\n"
                            "[file_driver]\ncapacity_gb = 7\n")

    assert conf.report_interval == 5
    assert conf.file_driver.capacity_gb == 7
    assert conf.file_driver.pool_path == f"{tmp_path}/volumes"


@pytest.mark.parametrize("section, option, value", [
    ("DEFAULT", "report_interval", "often"),
    ("DEFAULT", "report_interval", "0"),
    ("DEFAULT", "run_external_periodic_tasks", "maybe"),
    ("database", "pool_size", "-3"),
    ("api", "bind_port", "99999"),
    ("api", "auth_strategy", "password"),
    ("api", "wsgi_keep_alive", "perhaps"),
    ("file_driver", "max_over_subscription_ratio", "0.5"),
    ("worker", "workers", "many"),
])
def test_load_bad_value_raises_config_error_naming_the_option(
        tmp_path, section, option, value):
    path = write_conf(tmp_path, f"[{section}]\n{option} = {value}\n")

    with pytest.raises(config.ConfigError) as info:
        config.load(config.make_conf(), ["--config-file", path])

    message = str(info.value)
    assert f"[{section}] {option}" in message
    assert "\n" not in message


def test_load_missing_config_file_raises_config_error(tmp_path):
    missing = str(tmp_path / "nope.conf")

    with pytest.raises(config.ConfigError, match="config file not found"):
        config.load(config.make_conf(), ["--config-file", missing])


def test_load_unparseable_config_file_raises_config_error(tmp_path):
    path = write_conf(tmp_path, "this is not [an ini file\n")

    with pytest.raises(config.ConfigError, match="cannot parse"):
        config.load(config.make_conf(), ["--config-file", path])


def test_load_reads_no_config_file_unless_told(tmp_path, monkeypatch):
    # A config file in one of oslo.config's default places must not leak
    # into a conf built without --config-file.
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".capstan").mkdir()
    (tmp_path / ".capstan" / "capstan.conf").write_text(
        "[DEFAULT]\nreport_interval = 2\n")
    conf = config.make_conf()

    config.load(conf, [])

    assert conf.report_interval == 10


@pytest.mark.parametrize("topic, expected", [
    ("volume", "capstan_volumes.volume.manager.VolumeManager"),
    ("scheduler", "capstan_volumes.scheduler.manager.SchedulerManager"),
])
def test_manager_path_for_topic_known_topic(tmp_path, topic, expected):
    assert config.manager_path_for_topic(loaded(tmp_path), topic) == expected


def test_manager_path_for_topic_known_topic_overridden(tmp_path):
    conf = loaded(tmp_path, "[DEFAULT]\nvolume_manager = my.pkg.Manager\n")

    assert config.manager_path_for_topic(conf, "volume") == "my.pkg.Manager"


def test_manager_path_for_topic_unknown_topic_raises(tmp_path):
    with pytest.raises(config.ConfigError,
                       match=r"unknown topic 'backup'.*backup_manager"):
        config.manager_path_for_topic(loaded(tmp_path), "backup")


def test_manager_path_for_topic_custom_topic_from_config_file(tmp_path):
    conf = loaded(tmp_path, "[DEFAULT]\nbackup_manager = my.pkg.Backup\n")

    assert config.manager_path_for_topic(conf, "backup") == "my.pkg.Backup"
    # Asking again must not trip over the option registered the first time.
    assert config.manager_path_for_topic(conf, "backup") == "my.pkg.Backup"


@pytest.mark.parametrize("topic", ["no-dash", "a.b", "", "1st"])
def test_manager_path_for_topic_invalid_topic_raises(tmp_path, topic):
    with pytest.raises(config.ConfigError, match="invalid topic"):
        config.manager_path_for_topic(loaded(tmp_path), topic)


def test_ensure_state_path_creates_a_private_directory(tmp_path):
    state = tmp_path / "state" / "capstan"
    conf = loaded(tmp_path, f"[DEFAULT]\nstate_path = {state}\n")

    assert config.ensure_state_path(conf) == str(state)
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert config.ensure_state_path(conf) == str(state)


def test_list_opts_names_every_group_of_make_conf():
    conf = config.make_conf()
    conf([], default_config_files=[])

    for group, opts in config.list_opts():
        owner = conf if group == "DEFAULT" else getattr(conf, group)
        for opt in opts:
            getattr(owner, opt.dest)


def test_sample_shows_capstan_defaults_of_oslo_messaging_options():
    # The sample is what operators copy; it must show the defaults the
    # services really use, not oslo.messaging's own.
    sample = (REPO / "etc" / "capstan.conf.sample").read_text()
    conf = config.make_conf()
    assert conf.oslo_messaging_rabbit.rabbit_quorum_queue is True
    assert "\n#rabbit_quorum_queue = true\n" in sample
    assert conf.transport_url == "fake://"
    assert "\n#transport_url = fake://\n" in sample
