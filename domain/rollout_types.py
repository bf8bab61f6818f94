"""Types of the settings rollout: a business's settings changed, and every sleeping workflow hears it.

The rollout pages through the business's active rows in PostgreSQL (the source of truth for what should be
running; visibility is eventually consistent) and signals each workflow ``settings_changed`` with the
revision. The signal is idempotent: a workflow that has planned with that revision (or a newer one)
ignores it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

EntityKind = Literal["appointment", "vaccination", "policy", "invoice", "daily_plan"]
ROLLOUT_KINDS: tuple[EntityKind, ...] = ("appointment", "vaccination", "policy")
# Construction's sleepers (the escalation ladder, the daily-plan deadline): rolled out after the others by
# rollouts started since the patch ``rollout-wakes-invoices-and-daily-plans`` (workflows/settings_rollout.py).
CONSTRUCTION_KINDS: tuple[EntityKind, ...] = ("invoice", "daily_plan")


class SettingsChanged(BaseModel):
    """Signal ``settings_changed``: re-read the business's settings and re-plan what has not happened yet.

    CLI: ``temporal workflow signal -w appointment-<id> --name settings_changed
    --input '{"revision": 7}'``."""

    revision: int = Field(ge=1)


class KindProgress(BaseModel):
    kind: EntityKind
    after_id: int = Field(default=0, description="keyset cursor: rows up to this id are done")
    signalled: int = Field(default=0, description="running workflows told")
    started: int = Field(default=0, description="active rows whose workflow was missing: started")
    not_running: int = Field(default=0, description="rows whose workflow has ended (nothing to tell)")
    done: bool = False


class RolloutProgress(BaseModel):
    """The ``progress`` query of ``settings-rollout-<business>-r<revision>``."""

    business_id: int
    revision: int
    kinds: list[KindProgress]
    finished: bool = False
    superseded_by: int | None = Field(
        default=None,
        description="a newer revision whose own rollout tells every workflow instead (this one stopped)",
    )

    @property
    def signalled(self) -> int:
        return sum(kind.signalled for kind in self.kinds)


class RolloutInput(BaseModel):
    business_id: int
    revision: int = Field(ge=1)
    carried: RolloutProgress | None = Field(
        default=None, description="progress handed over by continue-as-new"
    )
    page_size: int = Field(default=200, ge=1, le=1000)


class RolloutPageInput(BaseModel):
    business_id: int
    revision: int
    kind: EntityKind
    after_id: int
    limit: int


class RolloutPageResult(BaseModel):
    last_id: int = Field(description="the highest id of the page (the next page starts after it)")
    signalled: int = 0
    started: int = 0
    not_running: int = 0
    done: bool = Field(description="the page was the last one")
    superseded_by: int | None = Field(
        default=None, description="the business is at this newer revision: nothing was signalled"
    )


class RolloutStarted(BaseModel):
    revision: int = Field(description="the business's settings revision that carries the change")
    workflow_id: str = Field(description="the rollout that tells the sleeping workflows")


class RolledOutInput(BaseModel):
    business_id: int
    revision: int
