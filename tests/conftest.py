"""Test-session settings shared by every test file."""


def pytest_collection_modifyitems(session, config, items):
    """Run the JAX tests last: once JAX is imported its thread pool is running, and a later
    ``os.fork()`` (sympy's simplify worker, multiprocessing pools) could deadlock in the child.
    The order of the other tests is kept."""
    items.sort(key=lambda item: "test_optax" in item.nodeid)
