"""Free what tf.data pipelines keep alive after their datasets are gone.

kser's pipelines read clips and cached features through
`tf.numpy_function`. TensorFlow registers each such Python function on the
*outermost* graph it finds, which in eager mode is the process-wide default
graph, and keeps it there (`Graph._py_funcs_used_in_graph`) for as long as
that graph lives: with every function, the arrays its closure holds. Keras'
`clear_session` resets that graph only on the tensorflow backend, so on jax
and torch a process that trains fold after fold kept every fold's features
(about 0.4 GB per Table I fold with float16 features) until it ended.

`py_functions_released()` bounds that: the functions registered inside the
block are dropped from the graph when it ends, so the arrays go with the
datasets that used them. Datasets made inside the block must not be used
after it (their functions are gone; TensorFlow then fails with "callback
pyfunc_N is not found"); those made before are untouched.
"""

import contextlib

_ATTRIBUTE = "_py_funcs_used_in_graph"


def _global_graph():
    """The graph `tf.numpy_function` registers its functions on (eager)."""
    import tensorflow as tf

    if not tf.executing_eagerly():
        return None  # inside a graph: that graph owns its functions
    from tensorflow.python.framework import ops

    return ops.get_default_graph()


@contextlib.contextmanager
def py_functions_released():
    """Drop, on exit, the `tf.numpy_function`s registered inside the block.

    Yields nothing. Nested blocks are fine (the inner one drops its own).
    """
    graph = _global_graph()
    before = len(getattr(graph, _ATTRIBUTE, ())) if graph is not None else 0
    try:
        yield
    finally:
        if graph is not None:
            registered = getattr(graph, _ATTRIBUTE, None)
            # A graph reset inside the block (Keras' clear_session on the
            # tensorflow backend) took its functions with it already.
            if registered is not None and graph is _global_graph():
                del registered[before:]
