"""The test suite. Helpers in ``tests.support`` get pytest's assertion rewriting, as
conftest.py's own code does (registered before conftest.py imports them)."""

import pytest

pytest.register_assert_rewrite("tests.support")
