"""Checks the Python test scripts share."""


def raises(cls, fn, *args):
    """The exception of class ``cls`` that ``fn(*args)`` raises; AssertionError when none."""
    try:
        fn(*args)
    except cls as e:
        return e
    raise AssertionError(f"expected {cls.__name__} from {fn.__name__}{args}")
