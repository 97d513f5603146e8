"""The HTTP check's baseline: a bare FastAPI app with one trivial endpoint, served by uvicorn exactly as
`accessledger serve` is (one worker, the same loop and parser), so the ratio shows what our request costs."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
