from pathlib import Path

import pytest

from mlopslab.config import Config, load_config
from mlopslab.errors import ConfigError


def test_defaults_when_nothing_is_set() -> None:
    cfg = load_config(environ={})
    assert cfg == Config()
    assert cfg.home == Path(".mlopslab")
    assert cfg.gate.thresholds == {} and cfg.gate.beat_majority


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    config_file = tmp_path / "mlopslab.toml"
    config_file.write_text("seed = 1\n[tune]\ntrials = 5\ncv_folds = 3\n")
    environ = {"MLOPSLAB_TUNE__TRIALS": "7", "MLOPSLAB_SEED": "2"}
    cfg = load_config(config_file, environ, {"seed": 3, "tune.jobs": None})
    assert cfg.tune.cv_folds == 3  # file
    assert cfg.tune.trials == 7  # env beats file
    assert cfg.seed == 3  # flag beats env
    assert cfg.tune.jobs == -1  # unset flag does not mask the default


def test_default_file_in_cwd_is_read() -> None:
    Path("mlopslab.toml").write_text('[registry]\npromotion = "manual"\n')
    assert load_config(environ={}).registry.promotion == "manual"


def test_env_lists_use_toml_syntax() -> None:
    cfg = load_config(environ={"MLOPSLAB_TUNE__FAMILIES": '["mlp", "logreg"]'})
    assert cfg.tune.families == ("mlp", "logreg")


def test_config_is_frozen() -> None:
    cfg = load_config(environ={})
    with pytest.raises(ValueError):
        # mypy also knows the model is frozen; this asserts it at run time.
        cfg.seed = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("environ", "field"),
    [
        ({"MLOPSLAB_TUNE__TRIALS": "zero"}, "tune.trials"),
        ({"MLOPSLAB_TUNE__FAMILIES": '["xgboost"]'}, "tune.families"),
        ({"MLOPSLAB_SPLIT__TEST_SIZE": "0.9"}, "split.test_size"),
        ({"MLOPSLAB_NOPE": "1"}, "nope"),
        ({"MLOPSLAB_REGISTRY__PROMOTION": "sometimes"}, "registry.promotion"),
    ],
)
def test_invalid_values_name_the_field(environ: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ)
    assert field in info.value.message
    assert info.value.exit_code == 2


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[tune\ntrials = ")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(broken, {})
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml", {})


def test_public_dump_masks_passwords_and_tokens() -> None:
    from mlopslab.config import load_config, public_dump

    cfg = load_config(
        overrides={
            "serve.capture_url": "postgresql://ana:s3cret@db:5432/capture",
            "serve.admin_token": "t0ken",
            "course.database": "postgresql://teach:cl4ss@db:5432/course",
            "course.token": "st0ken",
        }
    )
    shown = public_dump(cfg)
    assert shown["serve"]["capture_url"] == "postgresql://ana:***@db:5432/capture"
    assert shown["serve"]["admin_token"] == "***"
    assert shown["course"]["database"] == "postgresql://teach:***@db:5432/course"
    assert shown["course"]["token"] == "***"
    assert cfg.serve.capture_url is not None and "s3cret" in cfg.serve.capture_url
