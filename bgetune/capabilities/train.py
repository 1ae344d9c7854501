"""Training capabilities: hard-negative mining, the training estimate and training itself."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from bgetune.capabilities import Capability, Context, SettingError, coerce, fields_of, setting
from bgetune.capabilities.prereqs import HAS_APPROVED, HAS_SPLIT
from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import say
from bgetune.core.results import Result, settings_list
from bgetune.tools.budget import fit_config_to_budget
from bgetune.tools.history import add_skipped_negatives
from bgetune.tools.negatives import mine_negatives
from bgetune.tools.split import make_split
from bgetune.tools.teacher import teacher_sentence
from bgetune.tools.training import TrainConfig, TrainingError, estimate_training, train


@dataclass
class MineResult(Result):
    method: str = "dense"
    pairs: int = 0
    negatives: int = 0
    dropped_false_negatives: int = 0
    reason: str = ""

    def text(self, lang: str = "en") -> str:
        return say(
            lang,
            f"Mined {self.negatives} hard negatives for {self.pairs} pairs ({self.method}); "
            f"{self.dropped_false_negatives} likely false negatives dropped.",
            f"为 {self.pairs} 个问答对挖掘了 {self.negatives} 个难负例（{self.method}）；"
            f"去掉了 {self.dropped_false_negatives} 个疑似假负例。",
        )


@dataclass
class EstimateResult(Result):
    pairs: int = 0
    steps: int = 0
    epochs: int = 0
    minutes: float | None = None
    device: str = "cpu"
    base_model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        mins = f"{self.minutes:.1f}" if isinstance(self.minutes, int | float) else "?"
        s = settings_list(self.settings)
        return say(
            lang,
            f"Training estimate: {self.steps} steps over {self.pairs} pairs ({self.epochs} epochs), about {mins} min "
            f"on {self.device} (measured by timing a few real steps), base model {self.base_model}.\nSettings:\n{s}\n"
            'Nothing started; say "train" to get the approval prompt.',
            f"训练预估：{self.pairs} 个问答对，{self.epochs} 轮共 {self.steps} 步，在 {self.device} 上约 {mins} 分钟"
            f"（实测几步得出），基座模型 {self.base_model}。\n设置：\n{s}\n尚未开始；说“开始训练”会先请你批准。",
        )


@dataclass
class TrainResult(Result):
    run_id: str = ""
    steps: int = 0
    epochs_done: int = 0
    model_dir: str = ""
    base_val: dict[str, float] | None = None
    best_val: dict[str, float] | None = None
    best_epoch: int | None = None
    warning: str | None = None
    loss_curve: list[Any] = field(default_factory=list)

    def text(self, lang: str = "en") -> str:
        lines = [
            say(
                lang,
                f"Training done: {self.steps} steps, {self.epochs_done} epoch(s); run {self.run_id}.",
                f"训练完成：{self.steps} 步，{self.epochs_done} 轮；运行 {self.run_id}。",
            )
        ]
        if self.best_val and self.base_val:
            lines.append(
                say(
                    lang,
                    f"Validation nDCG@10 {self.base_val.get('ndcg@10', 0):.3f} -> {self.best_val.get('ndcg@10', 0):.3f} "
                    f"(epoch {self.best_epoch}; synthetic pairs, a rough guide only).",
                    f"验证集 nDCG@10 {self.base_val.get('ndcg@10', 0):.3f} -> {self.best_val.get('ndcg@10', 0):.3f}"
                    f"（第 {self.best_epoch} 轮；合成数据，仅供参考）。",
                )
            )
        teacher = self.detail.get("teacher")
        if isinstance(teacher, dict):  # issue 25: which teacher trained the model, and how good it was
            lines.append(teacher_sentence(teacher, lang))
        vocab = self.detail.get("new_tokens")
        if isinstance(vocab, dict) and vocab.get("added"):
            ex = " ".join(vocab.get("examples") or [])
            lines.append(
                say(
                    lang,
                    f"The base model read {vocab['unknown_rate']:.0%} of the training texts' tokens as unknown: "
                    f"{vocab['added']} new tokens were added and trained (e.g. {ex}).",
                    f"基座模型把训练文本中 {vocab['unknown_rate']:.0%} 的词元读作未知：已新增并训练 {vocab['added']} 个词元"
                    f"（例如 {ex}）。",
                )
            )
        decision = self.detail.get("decision")
        if isinstance(decision, dict) and decision.get("text"):
            lines.append(str(decision["text"]))
        if self.warning:
            lines.append(f"  ! {self.warning}")
        return "\n".join(lines)


@dataclass(kw_only=True)
class MineOptions:
    negatives: Literal["dense", "in-batch"] = setting(
        "dense", help="'dense' (mine with the base model) or 'in-batch'."
    )
    range_min: int = setting(
        2,
        help="Skip this many top-ranked chunks (likely positives).",
        min=0,
        workspace=True,
        say=("window start",),
    )
    range_max: int = setting(
        50, help="Take candidates up to this rank.", min=2, workspace=True, say=("window", "window end")
    )
    num_negatives: int = setting(
        7, help="Negatives kept per pair.", min=1, max=64, workspace=True, say=("negatives per pair",)
    )
    relative_margin: float = setting(
        0.05,
        help="A negative must score below (1 - margin) x the positive's score.",
        min=0.0,
        max=0.99,
        workspace=True,
        say=("margin",),
    )
    reranker: str | None = setting(
        None, help="Cross-encoder folder that checks candidates.", workspace=True, say=("reranker",)
    )
    recover: bool = setting(
        False,
        help="With a reranker: a top-k candidate it scores as an answer becomes an extra positive, never a negative.",
        workspace=True,
        say=("recover positives", "positive recovery"),
    )


def _mine(ctx: Context, o: MineOptions) -> MineResult:
    try:
        res = mine_negatives(
            ctx.ws,
            base_model=ctx.ws.get_setting("base_model"),
            method=o.negatives,
            progress=ctx.progress,
            **fields_of(o, exclude=("negatives",)),
        )
    except ValueError as exc:
        raise BgetuneError(str(exc)) from exc
    out = MineResult.of(res)

    added = add_skipped_negatives(ctx.ws, base_model=ctx.ws.get_setting("base_model"))
    if added:
        out.detail["skipped_negatives"] = added
        out.negatives += added
    return out


@dataclass(kw_only=True)
class TrainOptions:
    """Training settings a user may set in chat, on the CLI, in the UI card or at the approval gate."""

    epochs: int | None = setting(
        None,
        help="Epochs (default 3).",
        min=1,
        max=100,
        workspace=True,
        say=("epochs", "epoch", "轮数", "轮"),
    )
    lr: float | None = setting(
        None,
        help="Learning rate (default 2e-5 for small models, 1e-5 above).",
        min=1e-7,
        max=1e-2,
        workspace=True,
        say=("learning rate", "lr", "学习率"),
    )
    batch_size: int | None = setting(
        None,
        help="Pairs per step (default 32).",
        min=1,
        max=4096,
        workspace=True,
        say=("batch size", "batch", "批大小"),
    )
    max_steps: int | None = setting(
        None,
        help="Stop after this many steps (a quick trial).",
        min=1,
        workspace=True,
        say=("max steps", "steps", "步"),
    )
    time_budget: str | None = setting(
        None,
        help="Train for at most this long, e.g. '20 min': epochs and steps are fitted from the measured step time.",
        say=("time budget", "budget", "at most", "时间预算", "最多训练"),
    )
    base_model: str | None = setting(
        None,
        help="Hub id, local folder or 'bundled'.",
        workspace=True,
        say=("base model", "model", "基座模型"),
    )
    hard_negatives: int | None = setting(
        None,
        help="Mined negatives per query per step.",
        min=0,
        max=64,
        workspace=True,
        say=("hard negatives", "难负例"),
    )
    lora: bool = setting(False, help="Train LoRA adapters (merged on save).", workspace=True, say=("lora",))
    matryoshka: str | None = setting(
        None,
        help="Matryoshka dims, comma-separated, e.g. 384,256,128.",
        workspace=True,
        say=("matryoshka", "matryoshka dims"),
    )
    wise_ft: float | None = setting(
        None,
        help="Weight of the tuned model in a base/tuned weight merge (1 = no merge).",
        min=0.0,
        max=1.0,
        workspace=True,
        say=("wise-ft", "wise ft", "merge"),
    )
    attention_dropout: float | None = setting(
        None, help="Attention dropout while training (default 0).", min=0.0, max=0.9, workspace=True
    )
    mini_batch_size: int | None = setting(
        None,
        help="GradCache piece size, for big batches on small memory (default: 64 sequences on CPU, whole batch on GPU).",
        min=1,
        workspace=True,
    )
    max_query_len: int | None = setting(
        None, help="Query token cap (default: p99 of the data).", min=4, workspace=True
    )
    max_passage_len: int | None = setting(
        None, help="Passage token cap (default: p99 of the data).", min=16, workspace=True
    )
    device: str | None = setting(
        None, help="cpu, cuda, cuda:1 (default: best available).", workspace=True, say=("device",)
    )
    resume: bool = setting(False, help="Continue the last interrupted run from its checkpoint.")
    # teacher-guided training (tools/teacher.py, issue 25)
    objective: Literal["contrastive", "distill", "margin-mse"] | None = setting(
        None,
        help="distill (default: listwise KL from the teacher + contrastive), contrastive (MNRL only) or margin-mse.",
        workspace=True,
        say=("objective", "loss", "目标函数"),
    )
    teacher: str | None = setting(
        None,
        help="Teacher: auto | fusion | base | llm | cross-encoder:<hub id or folder> (scored before training).",
        workspace=True,
        say=("teacher", "教师", "教师模型"),
    )
    distill_weight: float | None = setting(None, help="Weight of the distillation term.", min=0.0, max=100.0)
    contrastive_weight: float | None = setting(
        None, help="Weight of the contrastive term next to distillation.", min=0.0, max=100.0
    )
    base_weight: float | None = setting(
        None, help="Weight of KL to the base model (keeps the student near the base).", min=0.0, max=100.0
    )
    teacher_temperature: float | None = setting(
        None, help="Teacher softmax temperature (default by its scores' unit).", min=1e-4, max=100.0
    )
    student_temperature: float | None = setting(
        None, help="Student softmax temperature (default: the family's).", min=1e-4, max=100.0
    )
    teacher_false_negatives: bool | None = setting(
        None, help="A candidate the teacher rates at or above the positive is never a negative (default on)."
    )
    extend_vocab: Literal["auto", "on", "off"] | None = setting(
        None,
        help="New tokens for text the base reads as unknown (Chinese for an English base): auto (when 20%+ of "
        "the training texts' tokens are unknown), on, off (default).",
        workspace=True,
        say=("new tokens", "extend vocab", "vocabulary", "新词元", "扩充词表"),
    )
    new_token_lr: float | None = setting(
        None, help="Learning rate of the new tokens' embedding rows (default 2e-3).", min=1e-6, max=1.0
    )


TRAIN_CONFIG_MAP = {"matryoshka": "matryoshka_dims"}


def train_config(ctx: Context, o: TrainOptions) -> Any:
    """The TrainConfig for these options (None values fall to TrainConfig's own defaults)."""

    accepted = {f.name for f in dataclasses.fields(TrainConfig)}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(o):
        v = getattr(o, f.name)
        if f.name == "matryoshka" and v:
            v = [int(x) for x in str(v).replace(" ", "").split(",") if x]
        name = TRAIN_CONFIG_MAP.get(f.name, f.name)
        if v is not None and name in accepted:
            values[name] = v
    if "device" not in values and ctx.settings.device:
        values["device"] = ctx.settings.device
    if "base_model" not in values and ctx.settings.base_model:
        values["base_model"] = ctx.settings.base_model
    cfg = TrainConfig(**values)
    if getattr(o, "time_budget", None):  # tools/budget.py: epochs / max_steps that fit the time budget
        cfg, _plan = fit_config_to_budget(ctx.ws, cfg, o.time_budget)
    return cfg


def resolved_train_settings(
    ctx: Context, o: TrainOptions, est: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The values training will really use, for the approval card and the estimate: the config's value, and
    where the config leaves it to the data (None: lr, token caps, device, base model) the estimate's resolved one.
    Every value shown is a valid value of its setting (the estimate's counts, such as how many pairs have hard
    negatives, are never shown as a setting)."""
    cfg = train_config(ctx, o)
    est = est or {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(o):
        if f.name == "resume":
            continue
        v = getattr(cfg, TRAIN_CONFIG_MAP.get(f.name, f.name), None)
        if v is None and f.name == "teacher":  # decided when training starts: the workspace's teacher, else auto
            v = (ctx.ws.get_setting("teacher_spec") or "auto") if cfg.objective != "contrastive" else None
        elif v is None:
            v = est.get(f.name)
        if f.name == "matryoshka" and isinstance(v, list):
            v = ",".join(map(str, v))
        if f.name in ("lora",) and not v:
            continue
        try:
            out[f.name] = coerce(f, v) if v is not None else None
        except SettingError:
            out[f.name] = None  # not a value the setting takes: the card shows the default instead
    return out


def _train_estimate(ctx: Context, o: TrainOptions) -> dict[str, Any]:
    ensure_split(ctx)
    est = estimate_training(ctx.ws, train_config(ctx, o), progress=ctx.progress)
    return est | {"settings": resolved_train_settings(ctx, o, est)}


def ensure_split(ctx: Context) -> Any:
    """Split (free, deterministic) when kept pairs have no split yet; training and its estimate need one."""
    if HAS_SPLIT.check(ctx.ws):
        return None

    return make_split(ctx.ws)


def _estimate(ctx: Context, o: TrainOptions) -> EstimateResult:
    return EstimateResult.of(_train_estimate(ctx, o))


def _train(ctx: Context, o: TrainOptions) -> TrainResult:
    ensure_split(ctx)
    try:
        out = train(ctx.ws, train_config(ctx, o), progress=ctx.progress)
    except TrainingError as exc:
        raise BgetuneError(str(exc)) from exc
    curve = out.get("loss_curve") or []
    if len(curve) > 12:  # keep the message short: first, evenly spaced, last
        out = out | {"loss_curve": curve[:: max(1, len(curve) // 10)] + [curve[-1]]}
    return TrainResult.of(out)


CAPABILITIES = [
    Capability(
        "mine_negatives",
        "Mine hard negatives for the training pairs (rank window + positive-aware margin).",
        _mine,
        MineOptions,
        MineResult,
        cost="cpu-minutes",
        requires=(HAS_APPROVED, HAS_SPLIT),
        cli="mine",
        stage=6,
    ),
    Capability(
        "estimate_training",
        "Estimate training steps, time and device (times a few real steps; trains nothing).",
        _estimate,
        TrainOptions,
        EstimateResult,
        cost="cpu-minutes",
        requires=(HAS_APPROVED,),
        cli="estimate",
    ),
    Capability(
        "train",
        "Fine-tune the embedding model on the approved pairs.",
        _train,
        TrainOptions,
        TrainResult,
        cost="gpu",
        requires=(HAS_APPROVED,),
        estimate=_train_estimate,
        stage=7,
        ui="settings",
    ),
]
