"""Models on a real Redis Cluster: 3 masters and 3 replicas, ``redis-server`` processes
on loopback started (and stopped, by PID) by this module.

Keys spread over every master, libraries on every primary, batches confined to a slot
with a clear error, related models co-located by ``hash_tag``, a plain URL to a
cluster node refused; then a master SIGKILLed under writers and readers, and a model's
slot moved to another master under writers and readers, each followed by
``consistency_check == []``.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from django_limpyd import fields
from django_limpyd.client_cluster import CrossSlotBatchError
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.related import FKInstanceHashField, M2MSetField, RelatedModel
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import ImplementationValueError
from django_limpyd.model import RedisModel
from django_limpyd.test.cluster import PrivateRedisCluster
from django_limpyd.test.commands import assert_num_commands
from tests.cluster import workers
from tests.cluster.models import DATABASE, Account
from tests.reliability.helpers import summary

pytestmark = pytest.mark.slow

WRITERS = 3
READERS = 2
#: how long the writers run around a failover or a slot move (seconds)
RUN_SECONDS = 6.0


def define(model_name: str, database: RedisDatabase, **attrs: Any) -> type:
    """A model class made at run time (its module set: no app registers it)."""
    attrs = {"database": database, "namespace": "spread", "__module__": __name__, **attrs}
    return type(model_name, (RedisModel,), attrs)


def keys_per_master(cluster: PrivateRedisCluster) -> dict[int, int]:
    counts = {}
    for node in cluster.masters():
        with cluster.node_client(node) as client:
            counts[node.port] = client.dbsize()
    return counts


def test_keys_of_many_models_spread_over_every_master(db, cluster):
    models = [define(f"Model{i}", db, value=fields.StringField(indexable=True)) for i in range(24)]
    slots = Counter()
    for model in models:
        for number in range(5):
            model(value=f"v{number}")
        slots[db.connection.keyslot(model._meta.keys.pks)] += 1
        assert sorted(model.collection()) == ["1", "2", "3", "4", "5"]
        assert consistency_check(model) == []
    distribution = keys_per_master(cluster)
    summary(
        "cluster keys per master",
        time.perf_counter(),
        **{f"port{port}": count for port, count in sorted(distribution.items())},
    )
    assert len(distribution) == 3
    assert all(count > 0 for count in distribution.values()), distribution
    assert sum(distribution.values()) == db.connection.dbsize()
    # every model keeps every key in one slot: the slot of its pks
    for model in models:
        model_slots = {db.connection.keyslot(key) for key in model.scan_model_keys()}
        assert model_slots == {db.connection.keyslot(model._meta.keys.pks)}


def test_libraries_are_loaded_on_every_primary(db, cluster):
    Person = define("Person", db, name=fields.InstanceHashField(indexable=True))
    Person(name="ann")
    name = Person._meta.library.name
    for node in cluster.masters():
        with cluster.node_client(node) as client:
            assert client.execute_command("FUNCTION", "LIST", "LIBRARYNAME", name), node.port


def test_scans_cover_every_primary(db, cluster):
    models = [define(f"Scan{i}", db, value=fields.StringField()) for i in range(12)]
    for model in models:
        model(value="x")
    keys = set(db.scan_keys())
    assert keys == set(db.connection.keys())
    assert len({db.connection.keyslot(key) for key in keys}) > 1
    for model in models:
        assert set(model.scan_model_keys()) <= keys


def test_a_transaction_spanning_slots_is_refused_naming_both_models(db):
    One = define("One", db, value=fields.StringField())
    Two = define("Two", db, value=fields.StringField())
    assert db.connection.keyslot(One._meta.keys.pks) != db.connection.keyslot(Two._meta.keys.pks)
    with db.pipeline() as pipeline:
        One(value="a")
        with pytest.raises(
            CrossSlotBatchError, match=r"\{spread:One\}, and \{spread:Two\}.*another slot"
        ):
            Two(value="b")
        pipeline.reset()
    assert list(One.collection()) == []
    assert list(Two.collection()) == []
    # without a transaction, a batch may span slots: one round trip per node
    with db.pipeline(transaction=False) as pipeline:
        One(value="a")
        Two(value="b")
        pipeline.execute()
    assert list(One.collection()) == ["1"]
    assert list(Two.collection()) == ["1"]


@pytest.fixture
def library_models(db):
    """Authors and books in different slots (no shared hash_tag)."""

    class Author(RelatedModel):
        database = db
        namespace = "spread"
        hash_tag = None
        name = fields.InstanceHashField(indexable=True)

    class Book(RelatedModel):
        database = db
        namespace = "spread"
        hash_tag = None
        author = FKInstanceHashField(Author, related_name="books")
        fans = M2MSetField(Author, related_name="liked")

    slot = db.connection.keyslot
    assert slot(Author._meta.keys.pks) != slot(Book._meta.keys.pks)
    return Author, Book


def test_related_models_in_two_slots_follow_the_ordered_steps(db, library_models):
    Author, Book = library_models
    ann, bob = Author(name="ann"), Author(name="bob")
    book = Book(author=ann, fans=[ann, bob])
    assert list(ann.books()) == [book.pk.get()]
    assert sorted(bob.liked()) == [book.pk.get()]
    # a missing target refuses the write before anything is sent
    with pytest.raises(Author.DoesNotExist, match="cannot point to Author '99'"):
        Book(author="99")
    with pytest.raises(Author.DoesNotExist):
        book.fans.sadd("98")
    assert len(Book.collection()) == 1 and book.fans.smembers() == {"1", "2"}
    # a deleted target: its pointers in the other slot are cleared
    ann.delete()
    assert book.author.hget() is None and book.fans.smembers() == {"2"}
    assert list(Book.collection(author="1")) == []
    for model in (Author, Book):
        assert consistency_check(model) == []


def test_a_target_deleted_between_the_check_and_the_write_is_cleared_by_the_writer(
    db, library_models, monkeypatch
):
    from django_limpyd.contrib.related import crossslot

    Author, Book = library_models
    ann = Author(name="ann")
    real_precheck = crossslot.precheck

    def then_deleted(field, pks):  # the deleter runs right after the check
        real_precheck(field, pks)
        Author(pks[0]).delete()

    monkeypatch.setattr(crossslot, "precheck", then_deleted)
    book = Book(author=ann)  # the deleter listed the pointers before this write
    monkeypatch.setattr(crossslot, "precheck", real_precheck)
    assert book.author.hget() is None  # cleared by the writer's last step
    assert consistency_check(Book) == []


def test_a_writer_stopped_before_its_last_step_leaves_what_check_repairs(
    db, library_models, monkeypatch
):
    from django_limpyd.contrib.related import crossslot
    from django_limpyd.contrib.related.integrity import clear_dangling, find_dangling

    Author, Book = library_models
    ann = Author(name="ann")
    book = Book()
    real_precheck = crossslot.precheck

    def then_deleted(field, pks):
        real_precheck(field, pks)
        Author(pks[0]).delete()

    monkeypatch.setattr(crossslot, "precheck", then_deleted)
    monkeypatch.setattr(crossslot, "settle", lambda *args: None)  # the process stopped
    book.author.hset(ann)
    monkeypatch.undo()
    problems = consistency_check(Book)
    assert len(problems) == 1 and "dangling" in problems[0]
    for pointer in find_dangling(Book):
        assert clear_dangling(pointer)
    assert book.author.hget() is None
    assert consistency_check(Book) == []


def test_co_located_related_models_write_in_one_call(db):
    class Writer(RelatedModel):
        database = db
        namespace = "spread"
        hash_tag = "library"
        name = fields.InstanceHashField(indexable=True)

    class Novel(RelatedModel):
        database = db
        namespace = "spread"
        hash_tag = "library"
        author = FKInstanceHashField(Writer, related_name="novels")

    writer = Writer(name="ann")
    novel = Novel(author=writer)
    assert list(writer.novels()) == [novel.pk.get()]
    assert Writer._meta.keys.prefix == "{library}{spread:Writer}"
    keys = [*Writer.scan_model_keys(), *Novel.scan_model_keys()]
    assert len({db.connection.keyslot(key) for key in keys}) == 1
    with assert_num_commands(1, db):
        writer.delete()  # the pointer goes with it, in the same call
    assert Novel(novel.pk.get()).author.hget() is None
    assert consistency_check(Novel) == []


def test_a_collection_reading_a_key_of_another_slot_says_so(db):
    Tagged = define("Tagged", db, value=fields.StringField())
    Tagged(value="x")
    db.connection.sadd("elsewhere", "1")
    from django_limpyd.contrib.collection import ExtendedCollectionManager

    Tagged.collection_manager = ExtendedCollectionManager
    with pytest.raises(ImplementationValueError, match="another slot"):
        list(Tagged.collection().intersect("elsewhere"))


def test_a_plain_url_to_a_cluster_node_is_refused(cluster):
    node = cluster.masters()[0]
    plain = RedisDatabase(host="127.0.0.1", port=node.port)
    Lost = define("Lost", plain, value=fields.StringField())
    try:
        with pytest.raises(ImproperlyConfigured, match=r"redis\+cluster://127.0.0.1"):
            Lost(value="x")
    finally:
        plain.close()


def _run_workers(cluster: PrivateRedisCluster, disturb: Any) -> dict[str, list[dict]]:
    """Writers and readers in spawned processes for RUN_SECONDS; ``disturb()`` runs
    meanwhile, in this process. Returns each side's reports."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    nodes = cluster.connection_kwargs()["cluster_nodes"]
    deadline = time.time() + RUN_SECONDS + 4.0  # + process start-up
    processes = [
        spawn.Process(target=workers.write_until, args=(nodes, seed, deadline, results))
        for seed in range(WRITERS)
    ] + [
        spawn.Process(target=workers.read_until, args=(nodes, 100 + seed, deadline, results))
        for seed in range(READERS)
    ]
    for process in processes:
        process.start()
    try:
        time.sleep(4.0 + RUN_SECONDS / 3)
        disturb()
        reports: dict[str, list[dict]] = {"write": [], "read": []}
        for _ in processes:
            side, _seed, ok, payload = results.get(timeout=RUN_SECONDS + 60)
            assert ok, payload
            reports[side].append(payload)
        return reports
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def _check_after(name: str, started: float, reports: dict[str, list[dict]], **extra: Any) -> None:
    """Print what the workers did, and check the model: consistent, no wrong read."""
    DATABASE.close()  # a fresh view of the topology
    problems = consistency_check(Account)
    writes, reads = reports["write"], reports["read"]
    summary(
        name,
        started,
        **extra,
        acknowledged=sum(r["done"] for r in writes),
        failed_while_disturbed=sum(r["failed"] for r in writes),
        reads=sum(r["done"] for r in reads),
        wrong_reads=sum(r["wrong"] for r in reads),
        instances=len(list(Account.collection())),
        consistency_check=problems,
    )
    assert problems == []
    assert sum(r["wrong"] for r in reads) == 0
    assert sum(r["done"] for r in writes) > 0


def test_a_master_killed_under_writers_fails_over_and_stays_consistent(db, cluster):
    started = time.perf_counter()
    slot = db.connection.keyslot(Account._meta.keys.pks)
    killed: list[Any] = []

    def kill() -> None:
        killed.append(cluster.kill_master_of(slot))
        cluster.wait_for_failover(slot)

    _check_after("cluster failover", started, _run_workers(cluster, kill))
    # the killed master comes back as a replica of the new one
    killed[0].start()
    cluster.wait_until_ok()


def test_a_write_to_a_slot_being_moved_runs_nothing_until_the_move_ends(db, cluster):
    """Every call declares the model's guard key, which never exists: while its slot is
    MIGRATING, the source answers TRYAGAIN before the function runs. Without it, this
    update (a non-unique index: nothing reads the new value's index key before writing)
    wrote the hash and removed the old entry, then stopped at the new entry's key, which
    is missing on the source ("non local key")."""
    account = Account(name="a", city="paris")
    slot = db.connection.keyslot(Account._meta.keys.pks)
    source = cluster.master_of_slot(slot)
    target = next(node for node in cluster.masters() if node is not source)
    with cluster.node_client(target) as to, cluster.node_client(source) as frm:
        to.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", cluster.node_id(source))
        frm.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", cluster.node_id(target))
        db.connection.slot_move_wait = 0.3
        try:
            with pytest.raises(redis.exceptions.ClusterError, match="its slot is being moved"):
                account.city.hset("a-city-never-seen")
            assert Account(account.pk.get()).city.hget() == "paris"
            assert list(Account.collection(city="paris")) == [account.pk.get()]
        finally:
            for client in (frm, to):
                client.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
            del db.connection.slot_move_wait
    account.city.hset("a-city-never-seen")  # the slot is stable again: it runs
    assert list(Account.collection(city="a-city-never-seen")) == [account.pk.get()]
    assert consistency_check(Account) == []


def test_a_model_slot_moved_under_writers_stays_consistent(db, cluster):
    started = time.perf_counter()
    slot = db.connection.keyslot(Account._meta.keys.pks)
    source = cluster.master_of_slot(slot)
    target = next(node for node in cluster.masters() if node is not source)

    def move() -> None:
        cluster.move_slot(slot, target)

    _check_after("cluster reshard", started, _run_workers(cluster, move), moved_slot=slot)
    assert cluster.master_of_slot(slot) is target
    with cluster.node_client(target) as client:
        assert client.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) > 0


def test_settings_urls(settings):
    from django_limpyd.settings_parser import parse_cluster_location, parse_entry

    parsed = parse_cluster_location("rediss+cluster://u:p%40ss@a:7000, b:7001/0")
    assert parsed.nodes == [("a", 7000), ("b", 7001)]
    assert (parsed.username, parsed.password, parsed.ssl) == ("u", "p@ss", True)
    for bad, message in [
        ("redis+cluster:///", "names no seed node"),
        ("redis+cluster://a/", "not a host:port"),
        ("redis+cluster://a:7000/3", "only database 0"),
    ]:
        with pytest.raises(ImproperlyConfigured, match=message):
            parse_entry("c", {"LOCATION": bad}, {})
    with pytest.raises(ImproperlyConfigured, match=r"\['REPLICAS'\].*does not use"):
        parse_entry(
            "c", {"LOCATION": "redis+cluster://a:1/", "OPTIONS": {"REPLICAS": ["redis://b"]}}, {}
        )
    with pytest.raises(ImproperlyConfigured, match="only database 0"):
        parse_entry("c", {"LOCATION": "redis+cluster://a:1/", "TEST": {"DB": 2}}, {})
    assert isinstance(redis.RedisCluster, type)


def _run(command: str, *args: Any, **options: Any) -> tuple[list[str], str]:
    from io import StringIO

    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err, **options)
    return out.getvalue().splitlines(), err.getvalue()


@pytest.fixture
def cluster_alias(cluster: PrivateRedisCluster) -> Any:
    """The ``default`` alias pointed at the module's cluster (emptied)."""
    from django.test import override_settings

    client = cluster.client()
    client.flushall(target_nodes=client.PRIMARIES)
    client.close()
    with override_settings(LIMPYD_DATABASES={"default": {"LOCATION": cluster.url}}):
        from django_limpyd.connections import databases

        yield databases["default"]


def test_commands_cover_every_primary(cluster_alias):
    from tests.apps.shop.redis_models import Foo, FooBar

    for number in range(30):
        Foo(value=f"f{number}")
        FooBar(value=f"b{number}")
    slots = {cluster_alias.connection.keyslot(m._meta.keys.pks) for m in (Foo, FooBar)}
    assert len(slots) == 2
    foo_keys = set(Foo.scan_model_keys())
    lines, err = _run("limpyd_scan", model="shop.Foo")
    assert len(lines) == len(foo_keys) and f"{len(foo_keys)} keys" in err
    for label in ("shop.Foo", "shop.FooBar"):
        lines, _err = _run("limpyd_index", "check", label)
        assert f"{label}: OK" in lines
    _run("limpyd_flush", "shop.Foo", interactive=False, reset_pk=True)
    assert list(Foo.scan_model_keys()) == []
    assert len(list(FooBar.collection())) == 30
    assert consistency_check(FooBar) == []


def test_the_key_browser_pages_through_every_primary(cluster_alias):
    from django_limpyd.admin.views.keys import PageScan

    models = [define(f"Browse{i}", cluster_alias, value=fields.StringField()) for i in range(9)]
    for model in models:
        for number in range(4):
            model(value=str(number))
    everything = set(cluster_alias.connection.keys())
    seen: list[bytes] = []
    cursor, pages = 0, 0
    while True:
        scan = PageScan(
            cluster_alias.connection, "*", cursor, 10, max_scans=5, max_scan_count=10
        ).run()
        seen += scan.keys
        pages += 1
        cursor = scan.next_cursor
        if not cursor:
            break
        assert pages < 200
    assert {key.decode() for key in seen} == everything
    assert scan.dbsize == len(everything)


def test_the_admin_index_shows_a_cluster(cluster_alias):
    from django_limpyd.admin.views.index import _public_location, _server_figures

    Shown = define("Shown", cluster_alias, value=fields.StringField())
    Shown(value="x")
    server, _memory, size, counts = _server_figures(cluster_alias, [{"model": Shown}])
    assert server["redis_mode"] == "cluster"
    assert size == cluster_alias.connection.dbsize() and counts == [1]
    assert _public_location(cluster_alias).startswith("redis+cluster://127.0.0.1:")


def _replica_of_slot(cluster: PrivateRedisCluster, slot: int) -> Any:
    master_id = cluster.node_id(cluster.master_of_slot(slot))
    for node in cluster.nodes:
        with cluster.node_client(node) as client:
            for line in client.execute_command("CLUSTER", "NODES").splitlines():
                parts = line.split()
                if "myself" in parts[2] and parts[3] == master_id:
                    return node
    raise LookupError(slot)


def test_durable_pipelines_wait_on_every_node(db, cluster):
    from django_limpyd.durability import DurabilityError

    One = define("DurOne", db, value=fields.StringField(indexable=True))
    Two = define("DurTwo", db, value=fields.StringField(indexable=True))
    One(value="warm"), Two(value="warm")
    slot_one = db.connection.keyslot(One._meta.keys.pks)
    slot_two = db.connection.keyslot(Two._meta.keys.pks)
    with db.durable(replicas=1, timeout=2):
        with db.pipeline() as pipeline:  # a transaction: one slot
            for number in range(5):
                One(value=f"v{number}")
            assert len(pipeline.execute()) == 5
        with db.pipeline(transaction=False) as pipeline:  # two slots, WAIT on each node
            One(value="x")
            Two(value="y")
            pipeline.execute()
    for model, slot, count in ((One, slot_one, 7), (Two, slot_two, 2)):
        replica = _replica_of_slot(cluster, slot)
        with cluster.node_client(replica) as client:
            client.execute_command("READONLY")
            assert client.zcard(model._meta.keys.pks) == count  # no sleep: WAIT returned
    replica = _replica_of_slot(cluster, slot_one)
    replica.pause()
    try:
        with db.durable(replicas=1, timeout=0.2), db.pipeline() as pipeline:
            One(value="late")
            with pytest.raises(DurabilityError, match="applied on the primary"):
                pipeline.execute()
    finally:
        replica.resume()
    assert list(One.collection(value="late")) == ["8"]  # applied once, not re-sent
    assert consistency_check(One) == [] and consistency_check(Two) == []


def test_aof_durability_is_refused_on_a_cluster_of_redis_7_0(db, cluster):
    from django_limpyd.durability import DurabilityUnsupported

    One = define("AofOne", db, value=fields.StringField(indexable=True))
    first = One(value="warm")
    with cluster.node_client(cluster.masters()[0]) as client:
        version = client.info("server")["redis_version"]
    if tuple(int(part) for part in version.split(".")) >= (7, 2):
        pytest.skip(f"the cluster runs {version}: it has WAITAOF")
    message = rf"needs Redis >= 7\.2; the server at 127\.0\.0\.1:\d+ runs version {version}"
    with db.durable(replicas=1, timeout=0.1, aof=True), assert_num_commands(0, db):
        with pytest.raises(DurabilityUnsupported, match=message):
            One(value="refused")
        with pytest.raises(DurabilityUnsupported, match=message):
            first.value.set("refused")
        with pytest.raises(DurabilityUnsupported, match=message), db.pipeline() as pipeline:
            One(value="refused")
            pipeline.execute()
    assert list(One.collection()) == [first.pk.get()]
    assert first.value.get() == "warm"
