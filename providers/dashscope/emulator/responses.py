"""Response bodies: sync shapes (wan vs qwen) and task query shapes."""

from __future__ import annotations

from dataclasses import dataclass

from .clock import dashscope_time
from .plan import Slot, successes
from .results import ImageSpec, Signer
from .rules import Endpoint, Kind, Shape
from .tasks import Task
from .validation import Job
from .wire import (
    Choice,
    ContentOut,
    MessageOut,
    ResultItem,
    SyncOutput,
    TaskMetrics,
    TaskOutput,
    Usage,
)


@dataclass(frozen=True, slots=True)
class Links:
    """Builds the signed result URLs of one task or sync call."""

    signer: Signer
    base: str
    owner: str
    issued: float
    ttl: float
    expired: bool = False

    def url(self, index: int, spec: ImageSpec) -> str:
        expires = int(self.issued) - 1 if self.expired else int(self.issued + self.ttl)
        return self.signer.url(self.base, self.owner, index, spec, expires)


def _choice(content: list[ContentOut], finish_reason: str = "stop") -> Choice:
    return Choice(finish_reason, MessageOut("assistant", content))


def step_text(job: Job, step: int) -> ContentOut:
    return ContentOut(text=f"Step {step}: {job.prompt_used[:60]}", type="text")


def wan_choices(job: Job, slots: tuple[Slot, ...], links: Links) -> list[Choice]:
    """One choice per image; interleave mode is one choice alternating text and image items."""
    images = [ContentOut(image=links.url(i, spec), type="image") for i, spec in successes(slots)]
    if job.interleave:
        content: list[ContentOut] = []
        for step, image in enumerate(images, start=1):
            content += [step_text(job, step), image]
        return [_choice(content)]
    return [_choice([image]) for image in images]


def _metrics(slots: tuple[Slot, ...]) -> TaskMetrics:
    ok = len(successes(slots))
    return TaskMetrics(TOTAL=len(slots), SUCCEEDED=ok, FAILED=len(slots) - ok)


#: qwen-image-3.0 bills by output area: up to this many pixels is the 1K tier.
QIMA_1K_MAX_PIXELS = 2_250_000


def sync_usage(job: Job, count: int) -> Usage:
    if job.rule.kind is Kind.QWEN3:
        tier = "1k" if job.width * job.height <= QIMA_1K_MAX_PIXELS else "2k"
        return Usage(
            output_width=job.width,
            output_height=job.height,
            input_image_count=len(job.images),
            input_image_type=f"qima_input_{tier}",
            output_image_count=count,
            output_image_type=f"qima_output_{tier}",
        )
    if job.rule.kind is Kind.ZIMAGE:
        tokens = 16 * len(job.prompt_used) if job.prompt_extend else 0
        return Usage(
            image_count=count,
            width=job.width,
            height=job.height,
            input_tokens=tokens,
            output_tokens=0,
            total_tokens=tokens,
        )
    if job.rule.shape is Shape.QWEN:
        return Usage(image_count=count, width=job.width, height=job.height)
    size = f"{job.width}*{job.height}"
    if not job.rule.token_usage:
        return Usage(image_count=count, size=size, input_tokens=0, output_tokens=0, total_tokens=0)
    # wan2.7 bills tokens; any stable non-zero figures do for a fake.
    input_tokens = 16 * len(job.prompt_used) + 1024 * len(job.images) + 100
    output_tokens = 2 * count
    return Usage(
        image_count=count,
        size=size,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


def sync_output(job: Job, slots: tuple[Slot, ...], links: Links, *, finished: bool = False) -> SyncOutput:
    if job.rule.shape is Shape.WAN:
        return SyncOutput(choices=wan_choices(job, slots, links), finished=True)
    images = [ContentOut(image=links.url(i, spec)) for i, spec in successes(slots)]
    if job.rule.kind is Kind.ZIMAGE:
        # The prompt comes back as a text item: rewritten when prompt_extend was on.
        text = f"{job.prompt_used}, cinematic light, rich detail" if job.prompt_extend else job.prompt_used
        images.append(ContentOut(text=text))
    return SyncOutput(
        choices=[_choice(images)],
        finished=True if finished else None,
        task_metric=_metrics(slots) if job.rule.sync_task_metric else None,
    )


def _results(task: Task, links: Links) -> list[ResultItem]:
    job = task.job
    orig = job.prompt_used if job.rule.orig_prompt else None
    actual = f"{job.prompt_used}, highly detailed, soft natural light, sharp focus." if job.prompt_extend else None
    items: list[ResultItem] = []
    for i, slot in enumerate(task.slots):
        if isinstance(slot, ImageSpec):
            items.append(ResultItem(orig_prompt=orig, actual_prompt=actual, url=links.url(i, slot)))
        else:
            items.append(ResultItem(code=slot.code, message=slot.message))
    return items


def task_view(task: Task, status: str, links: Links) -> tuple[TaskOutput, Usage | None]:
    """The ``output`` and ``usage`` of a task query in a known (not UNKNOWN) state."""
    out = TaskOutput(task_id=task.task_id, task_status=status, submit_time=dashscope_time(task.submitted))
    results_form = task.job.endpoint is not Endpoint.IMAGE_GENERATION
    if status in ("PENDING", "CANCELED"):
        return out, None
    out.scheduled_time = dashscope_time(task.start)
    if status == "RUNNING":
        if results_form:
            out.task_metrics = TaskMetrics(TOTAL=len(task.slots), SUCCEEDED=0, FAILED=0)
        return out, None
    out.end_time = dashscope_time(task.end)
    if status == "FAILED":
        out.code, out.message = task.fate.code, task.fate.message
        return out, None
    count = len(successes(task.slots))
    if results_form:
        out.results = _results(task, links)
        out.task_metrics = _metrics(task.slots)
        return out, Usage(image_count=count)
    out.finished = True
    out.choices = wan_choices(task.job, task.slots, links)
    size = f"{task.job.width}*{task.job.height}"
    return out, Usage(image_count=count, size=size, input_tokens=0, output_tokens=0, total_tokens=0)
