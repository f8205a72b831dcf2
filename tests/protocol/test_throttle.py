"""The MSG rate limit (spec: MSG rate limit): the master's throttle and the worker's pacer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pydisco.protocol import MsgPacer, MsgThrottle, ThrottleAction
from pydisco.protocol.limits import MSG_DELAY_SECONDS


def test_back_to_back_msgs_die_at_the_tenth() -> None:
    throttle = MsgThrottle()
    now, verdicts = 0.0, []
    for _ in range(10):
        verdict = throttle.on_msg(now)
        verdicts.append(verdict)
        now += verdict.delay + 0.001
    actions = [verdict.action for verdict in verdicts]
    assert actions[:5] == [ThrottleAction.REPLY] * 5
    assert actions[5:9] == [ThrottleAction.DELAY] * 4
    assert actions[9] is ThrottleAction.FATAL
    assert now < 1.0
    assert "Sent 10 events in a second" in verdicts[9].warning


def test_only_one_entry_is_dropped_per_message() -> None:
    throttle = MsgThrottle()
    for index in range(9):
        throttle.on_msg(index * 0.001)
    # Long after the burst, each new MSG still finds nine stale entries but one.
    verdict = throttle.on_msg(100.0)
    assert verdict.action is ThrottleAction.DELAY and verdict.count == 9
    assert verdict.delay == MSG_DELAY_SECONDS


@given(st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=200))
def test_a_paced_worker_is_never_delayed_or_killed(gaps: list[float]) -> None:
    throttle, pacer = MsgThrottle(), MsgPacer()
    now = 0.0
    for gap in gaps:
        now += gap
        now += pacer.delay(now)
        sent_at = now
        now += 0.0005  # transit to the master
        verdict = throttle.on_msg(now)
        assert verdict.action is ThrottleAction.REPLY
        now += 0.0005  # the OK travels back
        pacer.sent(sent_at, now)
