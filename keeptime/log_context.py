"""A worker interceptor that names the tenant on every log line an activity writes.

Activity inputs carry ids, never personal data; the business id among them (``business_id`` on the input
model) is the tenant, set in ``keeptime.logs.tenant_var`` for the activity's duration."""

from __future__ import annotations

from typing import Any

from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from keeptime.logs import tenant_var


def _business_id(args: Any) -> int | None:
    for arg in args:
        for holder in (arg, getattr(arg, "request", None)):
            value = getattr(holder, "business_id", None)
            if isinstance(value, int):
                return value
    return None


class _TenantInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        token = tenant_var.set(_business_id(input.args))
        try:
            return await self.next.execute_activity(input)
        finally:
            tenant_var.reset(token)


class TenantLogInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TenantInbound(next)
