"""Signals around creates, writes and deletes; none built when nobody listens."""

import pytest

from django_limpyd import signals
from django_limpyd.test.commands import assert_num_commands
from tests.apps.shop.redis_models import Person

NAMES = ("pre_save", "post_save", "pre_delete", "post_delete")


@pytest.fixture
def received():
    events = []
    by_signal = {getattr(signals, name): name for name in NAMES}

    def receiver(sender, signal, instance, **kwargs):
        events.append((by_signal[signal], sender, instance.pk.get(), kwargs))

    for name in NAMES:
        getattr(signals, name).connect(receiver, sender=Person)
    yield events
    for name in NAMES:
        getattr(signals, name).disconnect(receiver, sender=Person)


def test_create_write_delete_send_signals(received):
    ann = Person(name="Ann")
    ann.city.hset("Paris")
    ann.delete()
    assert [(name, sender, pk) for name, sender, pk, _ in received] == [
        ("pre_save", Person, None),
        ("post_save", Person, "1"),
        ("pre_save", Person, "1"),
        ("post_save", Person, "1"),
        ("pre_delete", Person, "1"),
        ("post_delete", Person, "1"),
    ]
    assert received[1][3] == {"created": True, "update_fields": None, "using": "default"}
    assert received[3][3] == {"created": False, "update_fields": ("city",), "using": "default"}
    assert received[5][3] == {"using": "default"}


def test_failed_write_sends_no_post_save(received):
    Person(name="Ann")
    bob = Person(name="Bob")
    received.clear()
    with pytest.raises(Exception, match="already exists"):
        bob.name.hset("Ann")
    assert [name for name, *_ in received] == ["pre_save"]


def test_no_listener_no_signal_work():
    assert not signals.pre_save.has_listeners(Person)
    with assert_num_commands(1, Person):
        Person(name="Ann")
