"""What one kernel must compute, independent of the model and of the device.

    problems.py         the Problems (frozen, hashable, canonical signatures, FLOPs, bytes)
    views.py            where a tensor's elements live in a buffer (offset and strides)
    lowering.py         a Graph's compute node -> its Problem
    numpy_reference.py  the numpy reference every kernel is judged against
"""
