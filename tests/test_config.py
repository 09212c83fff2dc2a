from datetime import timedelta
from pathlib import Path

import pytest

from pigeon.config import SETTINGS, Secret, Settings, SettingsError

DOCS = Path(__file__).parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented_with_its_default():
    text = DOCS.read_text()
    for setting in SETTINGS:
        assert f"`{setting.env}`" in text, setting.env
        if setting.default:
            assert f"`{setting.default}`" in text, setting.env


def test_defaults_are_the_embedded_setup():
    settings = Settings.from_env({})
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("/data/pigeon.db")
    assert settings.review_mode == "rules"
    assert settings.registration_delay == timedelta(0)
    assert str(settings.timezone) == "Asia/Shanghai"


@pytest.mark.parametrize("env, value, message", [
    ("PIGEON_PORT", "http", "PIGEON_PORT='http': expected a whole number"),
    ("PIGEON_PORT", "70000", "expected a number from 1 to 65535"),
    ("PIGEON_REVIEW_MODE", "auto", "expected one of manual, rules, realistic"),
    ("PIGEON_TIMEZONE", "Mars/Olympus", "IANA time zone"),
    ("PIGEON_REVIEW_DELAY", "soon", "expected a duration"),
    ("PIGEON_DATABASE_URL", "mysql://x", "expected sqlite:///PATH or postgresql"),
    ("PIGEON_EXTRA_HOLIDAYS", "2027-13-01", "is not a date"),
])
def test_it_refuses_a_bad_value_naming_the_variable(env, value, message):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({env: value})
    assert message in str(caught.value)
    assert env in str(caught.value)


def test_a_postgres_url_gets_the_psycopg_driver():
    settings = Settings.from_env({"PIGEON_DATABASE_URL": "postgresql://u:p@db/pigeon"})
    assert settings.database_url == "postgresql+psycopg://u:p@db/pigeon"


def test_registration_delay_never_means_operators_only():
    assert Settings.from_env({"PIGEON_REGISTRATION_DELAY": "never"}).registration_delay is None


def test_a_secret_never_shows_itself():
    settings = Settings.from_env({"PIGEON_SECRET_KEY": "very-secret-value"})
    assert "very-secret-value" not in repr(settings)
    assert settings.secret_key.reveal() == "very-secret-value"
    assert repr(Secret("x")) == "Secret('********')"


def test_a_bad_secret_value_is_not_echoed():
    # The secret key itself parses as any text; a bad one is reported masked elsewhere.
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PIGEON_PORT": "x", "PIGEON_SECRET_KEY": "s3cr3t"})
    assert "s3cr3t" not in str(caught.value)


def test_the_report_retry_schedule_is_a_list_of_waits():
    assert Settings.from_env({}).report_retry_schedule == (
        timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=10))
    longer = Settings.from_env({"PIGEON_REPORT_RETRY_SCHEDULE": "1m, 5m,10m,30m,1h,1h,1h"})
    assert longer.report_retry_schedule[-3:] == (timedelta(hours=1),) * 3
    assert Settings.from_env({"PIGEON_REPORT_RETRY_SCHEDULE": "none"}).report_retry_schedule == ()
    for bad in ("1m,,5m", "soon", "0s", "1m,-5m"):
        with pytest.raises(SettingsError) as caught:
            Settings.from_env({"PIGEON_REPORT_RETRY_SCHEDULE": bad})
        assert "PIGEON_REPORT_RETRY_SCHEDULE" in str(caught.value)
