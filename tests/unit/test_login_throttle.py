"""The sliding window of failed logins, with explicit times."""

from solvyd.server.auth.login_throttle import LoginThrottle

WINDOW = 300.0


def test_a_key_is_held_back_once_it_reaches_the_limit_until_failures_leave_the_window() -> None:
    throttle = LoginThrottle()
    for t in (0.0, 10.0, 20.0):
        assert throttle.wait_seconds("user:a", 3, WINDOW, now=t) == 0
        throttle.add_failure("user:a", now=t)
    # The third failure reached the limit: the next try waits until the first one expires.
    assert throttle.wait_seconds("user:a", 3, WINDOW, now=30.0) == 270.0
    assert throttle.wait_seconds("user:a", 3, WINDOW, now=300.5) == 0
    # Other keys are counted apart.
    assert throttle.wait_seconds("user:b", 3, WINDOW, now=30.0) == 0


def test_forget_and_clear() -> None:
    throttle = LoginThrottle()
    for t in (0.0, 1.0):
        throttle.add_failure("ip:x", now=t)
    throttle.forget_one("ip:x")
    assert throttle.wait_seconds("ip:x", 2, WINDOW, now=2.0) == 0
    throttle.add_failure("ip:x", now=2.0)
    assert throttle.wait_seconds("ip:x", 2, WINDOW, now=3.0) > 0
    throttle.clear("ip:x")
    assert throttle.wait_seconds("ip:x", 2, WINDOW, now=3.0) == 0


def test_a_spray_of_usernames_cannot_grow_the_table_without_bound() -> None:
    throttle = LoginThrottle(max_keys=100)
    throttle.wait_seconds("any", 5, WINDOW, now=0.0)
    for i in range(1000):
        throttle.add_failure(f"user:{i}", now=float(i))
    assert len(throttle._failures) <= 100
    # The newest keys are the ones kept.
    assert throttle.wait_seconds("user:999", 1, WINDOW, now=999.0) > 0
