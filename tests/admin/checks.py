"""Permission checks named by ``LIMPYD_ADMIN_PERMISSION`` in the tests."""


def staff_may_change(request):
    """Every staff member may change data."""
    return request.user.is_staff


def nobody_may_change(request):
    """Nobody may change data, superusers included."""
    return False


NOT_CALLABLE = "a string"
