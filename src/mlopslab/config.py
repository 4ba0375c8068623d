"""One frozen, typed configuration, resolved once at the entry point.

Precedence, lowest first: defaults, then a TOML file (`mlopslab.toml`), then
`MLOPSLAB_*` environment variables, then CLI flags. Nested keys use a double
underscore in variables: `MLOPSLAB_TUNE__TRIALS=8` sets `tune.trials`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mlopslab.errors import ConfigError

ENV_PREFIX = "MLOPSLAB_"
DEFAULT_CONFIG_FILE = "mlopslab.toml"
# Variables mlopslab sets for processes it starts: an alert command that runs
# mlopslab again must not read them as settings.
NOT_SETTINGS = frozenset({"MLOPSLAB_MONITOR_RESULT", "MLOPSLAB_SERVE_RUNTIME"})
MODEL_FAMILIES = (
    "logreg",
    "hist_gb",
    "mlp",
    "random_forest",
    "torch_mlp",  # PyTorch: the `torch` extra
    "torch_cnn",  # PyTorch, for images (digits, IDX folders)
)
# tune.families left unset also tries torch_cnn on images when torch is installed.
GATE_METRICS = ("accuracy", "macro_f1", "log_loss")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(Frozen):
    """Where rows come from: a built-in name, a CSV/parquet file or an IDX folder."""

    source: str = "penguins"
    target: str | None = None
    # Column hygiene (columns.py): columns to leave out, columns to keep that
    # the checks would drop (identifiers, constants, free text, target copies),
    # and whether timestamps become numeric parts or are left out.
    drop: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    timestamps: Literal["expand", "drop"] = "expand"


class SplitConfig(Frozen):
    test_size: float = Field(0.2, gt=0.0, lt=0.5)
    valid_size: float = Field(0.15, gt=0.0, lt=0.5)
    # Share of the rest held back, with the golden test set, as rows no model
    # trains on: `simulate traffic` draws from it. 0 keeps none (traffic is
    # then synthesised from the training rows, and says so).
    pool_size: float = Field(0.0, ge=0.0, lt=0.5)


class TuneConfig(Frozen):
    trials: int = Field(16, ge=1, le=10_000)
    # -1 means every core. The outcome never depends on it: trials are asked
    # in fixed batches of `batch_size` and told back in order.
    jobs: int = Field(-1, ge=-1)
    batch_size: int = Field(4, ge=1, le=64)
    cv_folds: int = Field(4, ge=2, le=20)
    families: tuple[str, ...] = ("logreg", "hist_gb", "mlp")
    # From this many training rows, trials score on one stratified holdout
    # instead of cv_folds folds, and climb rungs of rows (successive halving):
    # see tune.py. Boosting and the MLP then stop early too.
    holdout_above: int = Field(5_000, ge=100)
    # The most rows one trial fits on; the chosen model then fits on them all.
    max_trial_rows: int = Field(200_000, ge=1_000)
    # Seconds of tuning: no batch of trials starts after them (None: no limit).
    # The trials run are recorded, so `tune.trials` set to that count repeats
    # the search exactly.
    time_budget: float | None = Field(None, gt=0)

    @field_validator("families")
    @classmethod
    def _known_families(cls, families: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(families) - set(MODEL_FAMILIES))
        if unknown or not families:
            raise ValueError(
                f"unknown model families {unknown}; choose from {list(MODEL_FAMILIES)}"
            )
        return families

    @field_validator("jobs")
    @classmethod
    def _nonzero_jobs(cls, jobs: int) -> int:
        if jobs == 0:
            raise ValueError("jobs must be -1 (every core) or a positive count")
        return jobs


class GateConfig(Frozen):
    """A floor that adapts to the data, absolute thresholds if set, then the
    candidate against the champion.

    `min_absolute_change` and `min_relative_change` follow MLflow's
    MetricThreshold: the candidate must beat the champion on `compare_metric`
    by at least this much (0.0 means "not worse"). None skips that check.
    """

    thresholds: dict[str, float] = Field(default_factory=dict)
    compare_metric: Literal["accuracy", "macro_f1", "log_loss"] = "accuracy"
    min_absolute_change: float | None = 0.0
    min_relative_change: float | None = None

    @field_validator("thresholds")
    @classmethod
    def _known_metrics(cls, thresholds: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(thresholds) - set(GATE_METRICS))
        if unknown:
            raise ValueError(
                f"unknown gate metrics {unknown}; choose from {list(GATE_METRICS)}"
            )
        return thresholds

    # The champion comparison's paired test on the golden test set (exact
    # McNemar): with require_significance, "better" must also be unlikely
    # to be noise at this p-value.
    require_significance: bool = False
    significance: float = Field(0.05, gt=0, lt=1)
    # Fairness over evaluate.sensitive_features: the largest accuracy gap
    # between groups of one feature, and recall floors per group. Floor keys
    # are "feature=group", or "*" for every group with enough rows.
    max_group_gap: float | None = Field(None, ge=0, le=1)
    group_recall_floors: dict[str, float] = Field(default_factory=dict)
    # Expected calibration error above which the model is calibrated
    # (sigmoid, out-of-fold) before the gate; None never calibrates.
    max_calibration_error: float | None = Field(0.1, gt=0, le=1)
    # The default floor, whatever the data: on the golden test set the model
    # must beat always answering the most common training class, by more than
    # chance (exact McNemar at `significance`). A fixed floor goes in thresholds.
    beat_majority: bool = True


class RegistryConfig(Frozen):
    model_name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    promotion: Literal["auto", "manual"] = "auto"


class ServeConfig(Frozen):
    """`mlopslab serve`: where, what, and how requests are captured."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    model: str = "champion"  # an alias or a version number
    capture_rate: float = Field(1.0, ge=0.0, le=1.0)
    capture_sync: bool = False
    capture_queue: int = Field(10_000, ge=1)
    max_batch_rows: int = Field(1_000, ge=1)
    # A null in a column that had no gaps in training: imputed by the model's
    # pipeline as training's gaps were (False), or refused (True).
    strict_nulls: bool = False
    # A bad row in a batch (/predict, /invocations, `predict` on a file): refused
    # alone, with its own error, while the others are scored ("refuse_row"),
    # or the whole batch is refused ("refuse_batch").
    on_bad_row: Literal["refuse_row", "refuse_batch"] = "refuse_row"
    poll_seconds: float = Field(5.0, ge=0.0)  # 0 turns alias following off
    admin_token: str | None = None
    # Where captures and labels go (serve) and come from (monitor, labels):
    # a postgresql:// URL, or by default capture.db in the workspace.
    capture_url: str | None = Field(None, pattern=r"^postgres(ql)?://")


class ColumnDrift(Frozen):
    method: Literal["ks", "chi2", "wasserstein", "jensenshannon", "psi"]
    threshold: float = Field(gt=0)


class MonitorConfig(Frozen):
    """`mlopslab monitor`: the window, the tests and when to call it a violation."""

    # Attribution drift: the importance ranking on the window against the
    # baseline's; flagged when their Spearman correlation falls below this.
    attribution_threshold: float = Field(0.5, ge=-1, le=1)
    last: int = Field(500, ge=1)
    min_rows: int = Field(30, ge=1)  # below this a feature reads "insufficient data"
    small_reference: int = Field(
        1000, ge=1
    )  # up to this: KS / chi-squared, else distances
    p_value: float = Field(0.05, gt=0, lt=1)  # Benjamini-Hochberg adjusted
    distance: float = Field(0.1, gt=0)  # normed Wasserstein and Jensen-Shannon
    psi: float = Field(0.2, gt=0)
    columns: dict[str, ColumnDrift] = Field(default_factory=dict)
    completeness_tolerance: float = Field(0.05, ge=0, le=1)
    quality_tolerance: float = Field(0.05, ge=0, le=1)
    min_labels: int = Field(30, ge=1)
    fail_on: Literal["drift", "quality", "constraints", "any"] = "any"


class ExecutorConfig(Frozen):
    """Where tuning trials and batch scoring run: here, or on a Ray cluster."""

    kind: Literal["local", "ray"] = "local"
    ray_address: str | None = None  # HOST:PORT of `ray start --head`
    retries: int = Field(2, ge=0, le=10)  # per task lost with its worker

    @model_validator(mode="after")
    def _address_for_ray(self) -> ExecutorConfig:
        if self.kind == "ray" and not self.ray_address:
            raise ValueError("executor ray needs ray_address (--ray-address HOST:PORT)")
        return self


class CourseConfig(Frozen):
    # The course content folder; default ./course if it holds a course.yaml,
    # else the course that ships with mlopslab.
    root: Path | None = None
    attempt_policy: Literal["best", "last"] = "best"  # which quiz attempt counts
    # The class database (the gradebook): a postgresql:// URL, or by default
    # course.db in the workspace. MLOPSLAB_COURSE__DATABASE sets it too.
    database: str | None = None
    # Seconds a grading worker may go without a heartbeat before its job is
    # given to another worker.
    worker_silent: float = Field(20.0, gt=0)
    # A student's course server and token (`course submit`, `course quiz`).
    server: str | None = None
    token: str | None = None


class EvaluateConfig(Frozen):
    """What the evaluation measures beyond the headline metrics."""

    # Columns whose groups are compared (fairness). Unset: penguins' sex and
    # island; none for other data.
    sensitive_features: tuple[str, ...] | None = None
    min_group_rows: int = Field(10, ge=2)  # fewer: "insufficient", never a gap
    importance_repeats: int = Field(5, ge=1, le=100)
    # |Spearman| at which numeric columns are shuffled together as one group.
    importance_grouping: float = Field(0.8, gt=0, le=1)


class CardConfig(Frozen):
    """The model card's words for reviewers. Unset: honest defaults."""

    intended_use: str | None = None
    out_of_scope: str | None = None
    limitations: str | None = None
    ethical_considerations: str | None = None


class Config(Frozen):
    home: Path = Path(".mlopslab")
    seed: int = 42
    data: DataConfig = DataConfig()
    split: SplitConfig = SplitConfig()
    tune: TuneConfig = TuneConfig()
    gate: GateConfig = GateConfig()
    registry: RegistryConfig = RegistryConfig()
    serve: ServeConfig = ServeConfig()
    monitor: MonitorConfig = MonitorConfig()
    executor: ExecutorConfig = ExecutorConfig()
    course: CourseConfig = CourseConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    card: CardConfig = CardConfig()


SECRET = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def public_dump(cfg: Config) -> dict[str, Any]:
    """The config for files and screens: passwords and tokens masked."""
    data = cfg.model_dump(mode="json")
    for section, key in URLS:
        if data[section].get(key):
            data[section][key] = SECRET.sub(r"\1***@", data[section][key])
    for section, key in TOKENS:
        if data[section].get(key):
            data[section][key] = "***"
    return data


# Settings that may carry a password (in a URL) or are a secret themselves.
URLS = [("serve", "capture_url"), ("executor", "ray_address"), ("course", "database")]
TOKENS = [("serve", "admin_token"), ("course", "token")]


def load_config(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Resolve defaults < file < environment < overrides into one frozen Config.

    `overrides` uses dotted keys (`{"tune.trials": 8}`); None values are ignored
    so that unset CLI flags do not mask the layers below.
    """
    merged: dict[str, Any] = {}
    _deep_merge(merged, _file_layer(config_file))
    _deep_merge(merged, _env_layer(environ or {}))
    _deep_merge(merged, _dotted_to_nested(overrides or {}))
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(
            f"invalid config: {_describe(exc)}",
            "fix the value in mlopslab.toml, the MLOPSLAB_* variable or the flag",
        ) from exc


def _file_layer(config_file: Path | None) -> dict[str, Any]:
    path = config_file or Path(DEFAULT_CONFIG_FILE)
    if not path.exists():
        if config_file is not None:
            raise ConfigError(
                f"config file not found: {path}", "check the path given to --config"
            )
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc}", "fix its TOML syntax"
        ) from exc


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    dotted: dict[str, Any] = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name not in NOT_SETTINGS:
            key = name[len(ENV_PREFIX) :].lower().replace("__", ".")
            dotted[key] = _env_value(value)
    return _dotted_to_nested(dotted)


def _env_value(value: str) -> Any:
    # Lists and tables are written in TOML syntax: MLOPSLAB_TUNE__FAMILIES='["mlp"]'.
    if value.startswith(("[", "{")):
        try:
            return tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            return value
    return value


def _dotted_to_nested(dotted: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in dotted.items():
        if value is None:
            continue
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _deep_merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "config"
    extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}{extra}"
