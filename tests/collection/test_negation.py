"""The collection function's negated operation (``{"op": "not", "ops": [operation]}``):
the pks the operation does not hold, tested on candidates and never read."""

from django_limpyd import fields
from django_limpyd.collection.plan import run_plan
from django_limpyd.indexes import NumberRangeIndex
from django_limpyd.model import RedisModel


def test_negated_operations(database):
    class P(RedisModel):
        namespace = "notop"
        city = fields.InstanceHashField(indexable=True)
        age = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])

    P.use_database(database)
    for i in range(30):
        P(city="Paris" if i % 3 else "Lyon", age=i)
    paris = P.get_field("city").get_index().equal_operation("Paris")
    young = P.get_field("age").get_index().range_operation("lt", 10)

    def run(filters, **extra):
        plan = {"filters": filters, "count": False, "check": False, "auto": True, **extra}
        return run_plan(P, plan)

    lyon = [str(i + 1) for i in range(30) if i % 3 == 0]
    assert run([{"op": "not", "ops": [paris]}]) == lyon
    assert run([{"op": "not", "ops": [paris]}], limit=[0, 3]) == lyon[:3]
    assert run([{"op": "not", "ops": [paris]}, young]) == [p for p in lyon if int(p) <= 10]
    assert run([paris, {"op": "not", "ops": [young]}]) == [
        str(i + 1) for i in range(10, 30) if i % 3
    ]
    assert run([{"op": "not", "ops": [paris]}], count=True) == 10
    # only negations: the pks walked in order, each tested
    explained = run([{"op": "not", "ops": [paris]}], limit=[0, 3], explain=True)
    assert explained[0] == "index walk"
