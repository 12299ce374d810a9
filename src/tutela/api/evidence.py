"""`GET /v1/evidence?since=D&until=D[&cohort_created_from=D&cohort_created_until=D][&as_of=D]`: the
evidence pack as a zip, for staff (the bearer tokens of /v1/requests). The estate is the one the
server was started with (`tutela serve --estate`); without one the pack says it was not searched."""

from __future__ import annotations

import datetime as dt

from fastapi import Depends, FastAPI
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tutela.api.auth import ENV, StaffConfigError, StaffTokens
from tutela.api.rights import staff_auth
from tutela.api.schemas import STAFF_ERRORS
from tutela.engine import Engine
from tutela.errors import InputError
from tutela.models import EstateConfig


def _date(value: str | None, name: str, required: bool = True) -> dt.date | None:
    if value is None:
        if required:
            raise InputError(f"`{name}` is required", where=f"query.{name}", hint="YYYY-MM-DD")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"not a date: `{value}`", where=f"query.{name}", hint="use YYYY-MM-DD") from None


def install(app: FastAPI, engine: Engine, estate: EstateConfig | None = None) -> None:
    try:
        tokens = StaffTokens.from_env()
    except StaffConfigError as exc:
        raise InputError(str(exc), where=ENV) from None
    staff = Depends(staff_auth(tokens))

    @app.get("/v1/evidence", tags=["evidence"], responses={**STAFF_ERRORS, 200: {
        "description": "the evidence pack (zip)", "content": {"application/zip": {}}}},
        summary="The evidence pack for a period (zip; check it with `tutela evidence verify`)")
    async def pack(since: str | None = None, until: str | None = None, cohort_created_from: str | None = None,
                   cohort_created_until: str | None = None, as_of: str | None = None, who: str = staff) -> Response:
        a, b = _date(since, "since"), _date(until, "until")
        c1 = _date(cohort_created_from, "cohort_created_from", required=cohort_created_until is not None)
        c2 = _date(cohort_created_until, "cohort_created_until", required=c1 is not None)
        day = _date(as_of, "as_of", required=False)
        assert a is not None and b is not None
        if b < a:
            raise InputError(f"the period ends ({b}) before it starts ({a})", where="query.until")
        if c1 is not None and c2 is not None and c2 < c1:
            raise InputError(f"the cohort ends ({c2}) before it starts ({c1})", where="query.cohort_created_until")
        cohort = (c1, c2) if c1 is not None and c2 is not None else None
        data = await run_in_threadpool(lambda: engine.evidence.build(
            a, b, estate=estate.url if estate else None, datamap=estate.datamap if estate else None,
            cohort=cohort, today=day))
        return Response(data, media_type="application/zip",
                        headers={"content-disposition": f'attachment; filename="evidence-{a}-{b}.zip"'})
