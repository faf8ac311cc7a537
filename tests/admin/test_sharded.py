"""The admin pages of a sharded model (``events.Ticket``, 4 shards, a unique field):
the same list, filters, sorts, pages and change page as any model."""

from __future__ import annotations

import re

from tests.apps.events.redis_models import Ticket

TICKETS = "/admin/redis/events/ticket/"


def _tickets():
    return [
        Ticket(code=f"t{number:02d}", kind="ab"[number % 2], price=str(number))
        for number in range(30)
    ]


def test_the_list_counts_filters_sorts_and_pages_over_every_shard(superuser_client):
    created = _tickets()
    assert {type(ticket) for ticket in created} == set(Ticket._meta.shard_models)
    body = superuser_client.get(TICKETS).content.decode()
    assert 'id="limpyd-result-count">30 tickets<' in body or "30 tickets" in body
    pks = re.findall(r'href="/admin/redis/events/ticket/(\d+)/change/"', body)
    assert pks and pks == sorted(pks, key=int)  # the pk order, across shards
    body = superuser_client.get(TICKETS + "?kind=a&_o=-price").content.decode()
    prices = re.findall(r'<td class="field-price">\s*(\d+)\s*</td>', body)
    assert prices == sorted((str(n) for n in range(0, 30, 2)), key=int, reverse=True)


def test_the_change_page_edits_and_refuses_a_held_unique_value(superuser_client):
    created = _tickets()
    first = created[3]
    page = f"{TICKETS}{first.pk.get()}/change/"
    assert superuser_client.get(page).status_code == 200
    response = superuser_client.post(page, {"code": "t05", "kind": "a", "price": "3"})
    assert response.status_code == 200  # refused: t05 is held in another shard
    assert "t05" in response.content.decode()
    assert Ticket(first.pk.get()).code.hget() == "t03"
    response = superuser_client.post(page, {"code": "new", "kind": "b", "price": "99"})
    assert response.status_code == 302
    assert Ticket(first.pk.get()).code.hget() == "new"
    assert list(Ticket.collection(kind="b", price=99)) == [first.pk.get()]


def test_the_pages_work_the_same_while_the_model_is_resharded(superuser_client):
    from django_limpyd import fields, registry
    from django_limpyd.indexes import NumberRangeIndex
    from django_limpyd.model import RedisModel
    from django_limpyd.sharding import moves

    created = _tickets()
    during = type(
        "Ticket",
        (RedisModel,),
        {
            "__module__": Ticket.__module__,
            "__qualname__": "Ticket",
            "shards": 6,
            "resharding_from": 4,
            "code": fields.InstanceHashField(unique=True),
            "kind": fields.InstanceHashField(indexable=True),
            "price": fields.StringField(indexable=True, indexes=[NumberRangeIndex]),
        },
    )
    try:
        moves.close_old_layout(during)
        moves.move_batch(during, during._meta.previous_shard_models[1], 4)  # half-way
        body = superuser_client.get(TICKETS + "?kind=a&_o=-price").content.decode()
        assert "15 of 30 tickets" in body
        prices = re.findall(r'<td class="field-price">\s*(\d+)\s*</td>', body)
        assert prices == sorted((str(n) for n in range(0, 30, 2)), key=int, reverse=True)
        moved = next(t for t in created if int(t.pk.get()) % 4 == 2)  # in old shard 1
        page = f"{TICKETS}{moved.pk.get()}/change/"
        response = superuser_client.post(page, {"code": "t05", "kind": "a", "price": "3"})
        assert response.status_code == 200 and "t05" in response.content.decode()
        response = superuser_client.post(page, {"code": "moved", "kind": "b", "price": "1"})
        assert response.status_code == 302
        assert during(moved.pk.get()).code.hget() == "moved"
        moves.run(during)
        assert "30 tickets" in superuser_client.get(TICKETS).content.decode()
    finally:
        registry.register(Ticket)
        hosting = during._meta._registered_on
        if hosting is not None:  # its database hosts Ticket again (the same key): the
            hosting._add_model(Ticket)  # commands of later tests must not find `during`
