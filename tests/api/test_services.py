"""The payment service called directly (as a background job would), from many threads at once."""

from __future__ import annotations

import threading
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from gateway.services.agents import add_agent, load_agent
from gateway.services.payments import PaymentInput, post_payment
from schemas.tables import allocations, payments
from tests.api.conftest import A1, A2, insert_city, now_iso


def test_threads_posting_directly_store_each_payment_once(engine: Engine) -> None:
    insert_city(engine)
    agent = load_agent(engine, add_agent(engine, "direct").key_id)
    assert agent is not None
    paid_at = now_iso()
    inputs = [
        PaymentInput(f"T{i % 12}", (A1, A2)[i % 2], "5.00", "MDL", paid_at) for i in range(48)
    ]
    statuses: list[int] = []
    barrier = threading.Barrier(16)

    def worker(chunk: list[PaymentInput]) -> None:
        barrier.wait()
        for inp in chunk:
            out = post_payment(engine, agent, inp, tz=ZoneInfo("Europe/Chisinau"))
            statuses.append(out.status)

    threads = [threading.Thread(target=worker, args=(inputs[i::16],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses).count(201) == 12 and len(statuses) == 48
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payments)).scalar_one() == 12
        assert conn.execute(select(func.sum(allocations.c.amount))).scalar_one() == 12 * 500
